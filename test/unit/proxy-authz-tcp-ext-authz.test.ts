// The ext_authz network filter through the real listeners and cluster manager: a real gRPC authorizer (node:http2
// h2c on 127.0.0.1 speaking envoy.service.auth.v3.Authorization/Check with Envoy's protos) reached through a
// cluster of the config, real TCP connections through tcp_proxy to an echo server. Allowed → bytes flow; denied →
// closed before any upstream is contacted, record with UAEX and ext_authz_denied; authorizer unreachable →
// closed (ext_authz_error) unless failure_mode_allow; filter_enabled_metadata against what the network RBAC shadow
// rules wrote decides whether the authorizer is asked at all. In front of a connection manager the verdict is the
// connection's (asked once for its requests). simulate() reports the filter.
import { expect } from 'chai';
import http from 'node:http';
import http2 from 'node:http2';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tcpCheckAttributes } from '../../src/proxy/authz/network-ext-authz.ts';
import { startListeners } from '../../src/proxy/net/listeners.ts';
import type { RunningListeners } from '../../src/proxy/net/listeners.ts';
import { simulate } from '../../src/proxy/routing/simulate.ts';
import type { AuthzRecord } from '../../src/proxy/runtime.ts';
import { decodeMessage, encodeMessage } from '../../src/translate/envoy/proto.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { HCM, ROUTER, listener, proxyConfig, routeConfig, tcpProxy, vhost } from '../support/envoy-objects.ts';
import { FixtureCluster, FixtureClusters, makeRuntime, startProxy, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { ProxyFront, Upstream } from '../support/proxy-http-fixtures.ts';
import { send } from '../support/proxy-http-client.ts';
import { staticCluster } from '../support/proxy-upstream-fixtures.ts';
import { echoServer, explicitListener, freePort, netRuntime, noHttp, readAll } from '../support/proxy-net-fixtures.ts';
import type { Closable, NetRuntime } from '../support/proxy-net-fixtures.ts';

type O = Record<string, unknown>;
type Answer = { code: number; grpcStatus?: number; delayMs?: number };

const AUTHZ_CLUSTER = 'outbound|9191||opa.auth.svc.cluster.local';
const NET_RBAC = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';
const NET_EXT_AUTHZ = 'type.googleapis.com/envoy.extensions.filters.network.ext_authz.v3.ExtAuthz';
const CUSTOM_POLICY = 'istio-ext-authz-ns[db]-policy[opa]-rule[0]';

async function grpcAuthorizer(decide: () => Answer) {
  const seen: O[] = [];
  const server = http2.createServer();
  server.on('stream', (stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push(decodeMessage('envoy.service.auth.v3.CheckRequest', body.subarray(5, 5 + body.readUInt32BE(1))));
      const a = decide();
      if (a.delayMs) setTimeout(() => answer(stream, { ...a, delayMs: 0 }), a.delayMs);
      else answer(stream, a);
    });
  });
  const answer = (stream: http2.ServerHttp2Stream, a: Answer) => {
      if (stream.destroyed) return;
      if (a.grpcStatus !== undefined) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(a.grpcStatus) }, { endStream: true });
        return;
      }
      const msg = encodeMessage('envoy.service.auth.v3.CheckResponse', { status: { code: a.code } });
      const frame = Buffer.alloc(5 + msg.length);
      frame.writeUInt32BE(msg.length, 1);
      frame.set(msg, 5);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame);
  };
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => {
      for (const s of sessions) s.destroy();
      server.close(() => r());
    }),
  };
}

const h2 = { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
  '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} },
} } };

/** Translation's shape: the CUSTOM shadow RBAC marks the connection, ext_authz runs for marked connections. */
function shadow(principals: O[] = [{ any: true }]): O {
  return {
    name: 'envoy.filters.network.rbac',
    typedConfig: {
      '@type': NET_RBAC, statPrefix: 'tcp.', shadowRulesStatPrefix: 'istio_ext_authz_',
      shadowRules: { action: 'DENY', policies: { [CUSTOM_POLICY]: { permissions: [{ any: true }], principals } } },
    },
  };
}

function extAuthz(extra: O = {}): O {
  return {
    name: 'envoy.filters.network.ext_authz',
    typedConfig: {
      '@type': NET_EXT_AUTHZ, statPrefix: 'tcp.', transportApiVersion: 'V3',
      grpcService: { envoyGrpc: { clusterName: AUTHZ_CLUSTER, authority: 'outbound_.9191_._.opa.auth.svc.cluster.local' }, timeout: { seconds: 5 } },
      filterEnabledMetadata: {
        filter: 'envoy.filters.network.rbac', path: [{ key: 'istio_ext_authz_shadow_effective_policy_id' }],
        value: { stringMatch: { prefix: 'istio-ext-authz' } },
      },
      ...extra,
    },
  };
}

function config(filters: O[], backend: string, authorizer: string): ProxyConfig {
  return proxyConfig({
    listeners: [listener('0.0.0.0_5432', '0.0.0.0', 5432, [{ filters: [...filters, tcpProxy('db')] }])],
    clusters: [staticCluster('db', [backend]), staticCluster(AUTHZ_CLUSTER, [authorizer], h2)],
  });
}

const until = async (cond: () => boolean) => {
  const deadline = Date.now() + 5000;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
};

describe('proxy authz: ext_authz network filter before tcp_proxy', function () {
  this.timeout(15_000);
  let rt: NetRuntime | undefined;
  let running: RunningListeners | undefined;
  let echo: Closable & { connections: number };
  let auth: Awaited<ReturnType<typeof grpcAuthorizer>>;
  let answer: Answer;
  let decisions: AuthzRecord[];

  before(async () => {
    auth = await grpcAuthorizer(() => answer);
  });
  after(async () => { await auth.close(); });
  beforeEach(async () => {
    echo = await echoServer('db');
    auth.seen.length = 0;
    answer = { code: 0 };
    decisions = [];
  });
  afterEach(async () => {
    await running?.close();
    await rt?.clusters.close();
    await echo.close();
    running = undefined;
    rt = undefined;
  });

  async function talk(pc: ProxyConfig): Promise<string> {
    rt = netRuntime(pc);
    (rt.telemetry as unknown as { authz(r: AuthzRecord): void }).authz = (r) => decisions.push(r);
    running = await startListeners(rt, noHttp, explicitListener('inbound', '10.0.0.9', 5432));
    const c = connect(running.bound()[0]!.port, '127.0.0.1');
    const text = readAll(c);
    c.on('connect', () => c.end('hi'));
    return text;
  }

  it('asks the authorizer about the connection and proxies it when allowed', async () => {
    expect(await talk(config([shadow(), extAuthz()], echo.address, auth.address))).to.equal('db:hi');
    expect(auth.seen).to.have.length(1);
    const attrs = auth.seen[0]!.attributes as O;
    expect((attrs.source as O).address).to.have.nested.property('socketAddress.address', '127.0.0.1');
    expect((attrs.destination as O).address).to.deep.equal({ socketAddress: { address: '10.0.0.9', portValue: 5432 } });
    expect(attrs).to.not.have.property('request');
    await until(() => rt!.telemetry.closed.length === 1);
    expect(rt!.telemetry.closed[0]!.flags).to.deep.equal([]);
    expect(decisions.filter((d) => d.action === 'CUSTOM')).to.deep.equal([{ protocol: 'tcp', filter: 'envoy.filters.network.ext_authz', action: 'CUSTOM', decision: 'allowed', dryRun: false }]);
  });

  it('closes a denied connection before contacting the upstream: UAEX, ext_authz_denied', async () => {
    answer = { code: 7 };
    expect(await talk(config([shadow(), extAuthz()], echo.address, auth.address))).to.equal('');
    await until(() => rt!.telemetry.closed.length === 1);
    expect(echo.connections).to.equal(0);
    expect(rt!.telemetry.closed[0]).to.deep.include({ flags: ['UAEX'], details: 'ext_authz_denied', sentBytes: 0 });
    expect(decisions.filter((d) => d.action === 'CUSTOM').map((d) => d.decision)).to.deep.equal(['denied']);
  });

  it('closes the connection when the authorizer fails (grpc-status) or cannot be reached, unless failure_mode_allow', async () => {
    answer = { code: 0, grpcStatus: 14 };
    expect(await talk(config([shadow(), extAuthz()], echo.address, auth.address))).to.equal('');
    await until(() => rt!.telemetry.closed.length === 1);
    expect(rt!.telemetry.closed[0]).to.deep.include({ flags: ['UAEX'], details: 'ext_authz_error' });
    await running!.close();
    await rt!.clusters.close();

    const down = `127.0.0.1:${await freePort()}`;
    expect(await talk(config([shadow(), extAuthz()], echo.address, down))).to.equal('');
    await until(() => rt!.telemetry.closed.length === 1);
    expect(rt!.telemetry.closed[0]).to.deep.include({ flags: ['UAEX'], details: 'ext_authz_error' });
    expect(echo.connections).to.equal(0);
    await running!.close();
    await rt!.clusters.close();

    expect(await talk(config([shadow(), extAuthz({ failureModeAllow: true })], echo.address, down))).to.equal('db:hi');
    await until(() => rt!.telemetry.closed.length === 1);
    expect(rt!.telemetry.closed[0]!.flags).to.deep.equal([]);
  });

  it('does not ask when filter_enabled_metadata does not match what the RBAC shadow rules wrote', async () => {
    answer = { code: 7 };
    const onlyMtls = shadow([{ authenticated: {} }]);
    expect(await talk(config([onlyMtls, extAuthz()], echo.address, auth.address))).to.equal('db:hi');
    expect(auth.seen).to.have.length(0);
    await running!.close();
    await rt!.clusters.close();
    // Without the RBAC filter in front nothing marks the connection either.
    expect(await talk(config([extAuthz()], echo.address, auth.address))).to.equal('db:hi');
    expect(auth.seen).to.have.length(0);
    await running!.close();
    await rt!.clusters.close();
    // A filter without filter_enabled_metadata always asks.
    expect(await talk(config([extAuthz({ filterEnabledMetadata: undefined })], echo.address, auth.address))).to.equal('');
    expect(auth.seen).to.have.length(1);
  });

  it('an enforcing network RBAC denial ends the walk before the authorizer is asked', async () => {
    const deny = { name: 'envoy.filters.network.rbac', typedConfig: { '@type': NET_RBAC, statPrefix: 'tcp.', rules: { action: 'DENY', policies: { d: { permissions: [{ any: true }], principals: [{ any: true }] } } } } };
    expect(await talk(config([shadow(), extAuthz(), deny], echo.address, auth.address))).to.equal('');
    expect(auth.seen).to.have.length(1);
    await running!.close();
    await rt!.clusters.close();
    auth.seen.length = 0;
    expect(await talk(config([deny, shadow(), extAuthz()], echo.address, auth.address))).to.equal('');
    expect(auth.seen).to.have.length(0);
    await until(() => rt!.telemetry.closed.length === 1);
    expect(rt!.telemetry.closed[0]).to.deep.include({ flags: [], details: 'rbac_access_denied_matched_policy[d]' });
  });

  it('holds what the downstream sends (and its half-close) during a slow check, and delivers it once allowed', async () => {
    answer = { code: 0, delayMs: 200 };
    expect(await talk(config([shadow(), extAuthz()], echo.address, auth.address))).to.equal('db:hi');
    await until(() => rt!.telemetry.closed.length === 1);
    expect(rt!.telemetry.closed[0]).to.deep.include({ flags: [], receivedBytes: 2 });
  });

  it('cancels the call when the downstream resets during the check (DC), without contacting the upstream', async () => {
    answer = { code: 0, delayMs: 300 };
    rt = netRuntime(config([shadow(), extAuthz()], echo.address, auth.address));
    running = await startListeners(rt, noHttp, explicitListener('inbound', '10.0.0.9', 5432));
    const c = connect(running.bound()[0]!.port, '127.0.0.1');
    c.on('error', () => {});
    await until(() => auth.seen.length === 1);
    c.resetAndDestroy();
    await until(() => rt!.telemetry.closed.length === 1);
    expect(rt!.telemetry.closed[0]!.flags).to.deep.equal(['DC']);
    await new Promise((r) => setTimeout(r, 400));
    expect(echo.connections).to.equal(0);
  });

  it('simulate() reports that the authorizer would be asked only when the shadow rules mark the connection', () => {
    const at = (filters: O[]) => simulate(config(filters, '10.1.1.1:5432', '10.2.2.2:9191'), { direction: 'inbound', port: 5432, destinationIp: '10.0.0.9', protocol: 'tcp' }).authz;
    expect(at([shadow(), extAuthz()])).to.deep.include({ decision: 'allowed', extAuthz: 'checked' });
    expect(at([shadow([{ authenticated: {} }]), extAuthz()])).to.not.have.property('extAuthz');
  });

  it('fills the CheckRequest as Envoy does for a connection: peers, own identity under mTLS, SNI as the destination service', () => {
    const pc = config([], '10.1.1.1:5432', '10.2.2.2:9191');
    const runtime = netRuntime(pc);
    runtime.setIdentity({ spiffeId: 'spiffe://cluster.local/ns/db/sa/db' } as never);
    const conn = {
      kind: 'inbound', downstreamRemote: '10.1.2.3:40000', plan: () => { throw new Error('unused'); },
      info: { direction: 'inbound', port: 5432, destinationIp: '10.0.0.9', sourceIp: '10.1.2.3' },
      tls: { peerPrincipal: 'spiffe://cluster.local/ns/app/sa/api', sni: 'db.example.com' },
    } as never;
    expect(tcpCheckAttributes(runtime, conn, false)).to.deep.equal({
      source: { address: { socketAddress: { address: '10.1.2.3', portValue: 40000 } }, principal: 'spiffe://cluster.local/ns/app/sa/api' },
      destination: { address: { socketAddress: { address: '10.0.0.9', portValue: 5432 } }, service: 'db.example.com', principal: 'spiffe://cluster.local/ns/db/sa/db' },
    });
    expect(tcpCheckAttributes(runtime, conn, true)).to.have.deep.property('tlsSession', { sni: 'db.example.com' });
    void runtime.clusters.close();
  });
});

describe('proxy authz: ext_authz network filter in front of a connection manager', function () {
  this.timeout(15_000);
  let up: Upstream;
  let auth: Awaited<ReturnType<typeof grpcAuthorizer>>;
  let clusters: FixtureClusters;
  let answer: Answer;
  const fronts: ProxyFront[] = [];

  before(async () => {
    up = await startUpstream((_req, res) => res.end('app'));
    auth = await grpcAuthorizer(() => answer);
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster('app', [up.address]));
    clusters.add(new FixtureCluster(AUTHZ_CLUSTER, [auth.address], { h2c: true }));
  });
  after(async () => {
    await Promise.all(fronts.map((f) => f.close()));
    await clusters.close();
    await auth.close();
    await up.close();
  });
  beforeEach(() => { auth.seen.length = 0; });

  async function start() {
    const rc = routeConfig('inbound', [vhost('in', ['*'], [{ name: 'all', match: { prefix: '/' }, route: { cluster: 'app' } }])]);
    const manager = { name: 'envoy.filters.network.http_connection_manager', typedConfig: { '@type': HCM, statPrefix: 'inbound', rds: { routeConfigName: 'inbound' }, upgradeConfigs: [{ upgradeType: 'websocket' }], httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } }] } };
    const pc = proxyConfig({ listeners: [listener('virtualInbound', '0.0.0.0', 15006, [{ filters: [shadow(), extAuthz(), manager] }])], routes: [rc] });
    const runtime = makeRuntime(pc, clusters);
    const front = await startProxy(runtime, 'http1', 8080, { kind: 'inbound' });
    fronts.push(front);
    return { runtime, port: front.port };
  }

  it('asks once for the connection and lets its requests through when allowed', async () => {
    answer = { code: 0 };
    const { port } = await start();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () => new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c.toString(); });
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      }).on('error', reject);
    });
    expect(await get()).to.equal('200 app');
    expect(await get()).to.equal('200 app');
    agent.destroy();
    expect(auth.seen).to.have.length(1);
  });

  it('simulate() reports the authorizer asked for the connection', async () => {
    const { runtime } = await start();
    const r = simulate(runtime.live.current()!.config, { direction: 'inbound', port: 15006, host: 'example.com', path: '/' });
    expect(r.authz).to.deep.include({ decision: 'allowed', extAuthz: 'checked' });
  });

  it('an upgrade request is no way around it', async () => {
    answer = { code: 7 };
    const { runtime, port } = await start();
    const c = connect(port, '127.0.0.1');
    const text = readAll(c);
    c.on('connect', () => c.write('GET /ws HTTP/1.1\r\nhost: example.com\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n'));
    expect(await text).to.match(/^HTTP\/1\.1 403 /);
    await until(() => runtime.telemetry.records.length === 1);
    expect(runtime.telemetry.records[0]).to.deep.include({ status: 403, flags: ['UAEX'], details: 'ext_authz_denied' });
    expect(auth.seen).to.have.length(1);
  });

  it('answers a denied connection 403 with UAEX and closes it', async () => {
    answer = { code: 7 };
    const { runtime, port } = await start();
    const r = await send(port, '/x');
    expect(r.status).to.equal(403);
    expect(r.headers.connection).to.equal('close');
    await until(() => runtime.telemetry.records.length === 1);
    expect(runtime.telemetry.records[0]).to.deep.include({ status: 403, flags: ['UAEX'], details: 'ext_authz_denied' });
  });
});
