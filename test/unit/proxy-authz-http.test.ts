// HTTP authorization through the real sidecar pieces: a connection manager whose http_filters hold RBAC filters
// (DENY, LOG, ALLOW, shadow rules) before fault, CORS and the router, in front of a node:http upstream. Denials
// are 403 `RBAC: access denied` with Envoy's details and no flag; the path the filters see is the normalized one
// (bypass attempts with dot segments, doubled or escaped slashes, percent-encoded letters fail); the chain runs
// in order and its header edits and response headers reach the upstream and the client.
import { expect } from 'chai';
import diagnosticsChannel from 'node:diagnostics_channel';
import { connect } from 'node:net';
import { AUTHZ_CHANNEL } from '../../src/proxy/authz/events.ts';
import { STAGES } from '../../src/proxy/http/filters/registry.ts';
import type { StageFactory } from '../../src/proxy/http/filters/types.ts';
import type { AuthzRecord } from '../../src/proxy/runtime.ts';
import { createTelemetry } from '../../src/proxy/telemetry/istio.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { CORS_FILTER, FAULT, HCM, ROUTER, listener, proxyConfig, routeConfig, vhost } from '../support/envoy-objects.ts';
import { FixtureCluster, FixtureClusters, makeRuntime, startProxy, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { ProxyFront, Upstream } from '../support/proxy-http-fixtures.ts';
import { send } from '../support/proxy-http-client.ts';

type O = Record<string, unknown>;
const RBAC = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const PEER = 'spiffe://cluster.local/ns/shop/sa/frontend';

const rbacFilter = (config: O): O => ({ name: 'envoy.filters.http.rbac', typedConfig: { '@type': RBAC, ...config } });
const policy = (permissions: O[], principals: O[] = [{ any: true }]): O => ({ permissions, principals });
const path = (prefix: string): O => ({ urlPath: { path: { prefix } } });
const exactPath = (exact: string): O => ({ urlPath: { path: { exact } } });

function config(httpFilters: O[], hcmExtra: O = {}, routeExtra: O = {}): ProxyConfig {
  const rc = routeConfig('inbound', [vhost('in', ['*'], [{ name: 'all', match: { prefix: '/' }, route: { cluster: 'app' }, ...routeExtra }])]);
  const hcm = { name: 'envoy.filters.network.http_connection_manager', typedConfig: { '@type': HCM, statPrefix: 'inbound', rds: { routeConfigName: 'inbound' }, httpFilters, ...hcmExtra } };
  return proxyConfig({ listeners: [listener('virtualInbound', '0.0.0.0', 15006, [{ filters: [hcm] }])], routes: [rc] });
}

const router = { name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } };
const fault = { name: 'envoy.filters.http.fault', typedConfig: { '@type': FAULT } };
const cors = { name: 'envoy.filters.http.cors', typedConfig: { '@type': CORS_FILTER } };

/** Istio's shape for one workload: DENY /admin (and dry-run DENY /dry), AUDIT /audit, ALLOW GET or the frontend. */
const istioChain = [
  rbacFilter({
    rules: { action: 'DENY', policies: { 'ns[shop]-policy[deny-admin]-rule[0]': policy([path('/admin')]) } },
    shadowRules: { action: 'DENY', policies: { 'ns[shop]-policy[dry]-rule[0]': policy([path('/dry')]) } },
    shadowRulesStatPrefix: 'istio_dry_run_deny_',
  }),
  rbacFilter({ rules: { action: 'LOG', policies: { 'ns[shop]-policy[audit]-rule[0]': policy([path('/audit')]) } } }),
  rbacFilter({ rules: { action: 'ALLOW', policies: {
    'ns[shop]-policy[get]-rule[0]': policy([{ header: { name: ':method', stringMatch: { exact: 'GET' } } }]),
    'ns[shop]-policy[frontend]-rule[0]': policy([{ any: true }], [{ authenticated: { principalName: { exact: PEER } } }]),
  } } }),
  fault, cors, router,
];

describe('proxy authz: HTTP RBAC filters in the sidecar', function () {
  this.timeout(10_000);
  let up: Upstream;
  let fronts: ProxyFront[] = [];
  let clusters: FixtureClusters;

  before(async () => {
    up = await startUpstream((req, res) => res.end(JSON.stringify({ path: req.url, headers: req.headers })));
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster('app', [up.address]));
  });
  after(async () => {
    await clusters.close();
    await up.close();
  });
  afterEach(async () => {
    await Promise.all(fronts.map((f) => f.close()));
    fronts = [];
  });

  async function start(pc: ProxyConfig, peerPrincipal?: string) {
    const runtime = makeRuntime(pc, clusters);
    const decisions: AuthzRecord[] = [];
    (runtime.telemetry as unknown as { authz(r: AuthzRecord): void }).authz = (r) => decisions.push(r);
    const front = await startProxy(runtime, 'http1', 8080, { kind: 'inbound', ...(peerPrincipal ? { tls: { peerPrincipal } } : {}) });
    fronts.push(front);
    return { runtime, decisions, port: front.port };
  }

  const until = async (cond: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  };

  it('answers 403 RBAC: access denied with Envoy\'s details and no flag; allowed requests reach the app', async () => {
    const { runtime, decisions, port } = await start(config(istioChain));
    const ok = await send(port, '/public');
    expect(ok.status).to.equal(200);
    expect(JSON.parse(ok.body).path).to.equal('/public');
    const denied = await send(port, '/admin/users');
    expect([denied.status, denied.body]).to.deep.equal([403, 'RBAC: access denied']);
    const notAllowed = await send(port, '/public', { method: 'POST', body: 'x' });
    expect([notAllowed.status, notAllowed.body]).to.deep.equal([403, 'RBAC: access denied']);
    await until(() => runtime.telemetry.records.length === 3);
    const [, d, n] = runtime.telemetry.records;
    expect(d).to.deep.include({ status: 403, flags: [], details: 'rbac_access_denied_matched_policy[ns[shop]-policy[deny-admin]-rule[0]]', path: '/admin/users' });
    expect(n).to.deep.include({ status: 403, flags: [], details: 'rbac_access_denied_matched_policy[none]' });
    expect(up.hits.filter((h) => h.url !== '/public')).to.have.length(0);
    expect(decisions.filter((x) => !x.dryRun && x.decision === 'denied').map((x) => [x.action, x.policy])).to.deep.equal([
      ['DENY', 'ns[shop]-policy[deny-admin]-rule[0]'], ['ALLOW', undefined],
    ]);
  });

  it('admits the mTLS peer an ALLOW policy names, whatever the method', async () => {
    const { port } = await start(config(istioChain), PEER);
    expect((await send(port, '/orders', { method: 'POST', body: '{}' })).status).to.equal(200);
    expect((await send(port, '/admin')).status).to.equal(403);
  });

  it('marks audited requests and reports dry-run denials without enforcing them', async () => {
    const { runtime, decisions, port } = await start(config(istioChain));
    const events: AuthzRecord[] = [];
    const listen = (m: unknown) => events.push(m as AuthzRecord);
    diagnosticsChannel.subscribe(AUTHZ_CHANNEL, listen);
    try {
      expect((await send(port, '/audit')).status).to.equal(200);
      expect((await send(port, '/dry')).status).to.equal(200);
    } finally {
      diagnosticsChannel.unsubscribe(AUTHZ_CHANNEL, listen);
    }
    await until(() => runtime.telemetry.records.length === 2);
    const [audit, dry] = runtime.telemetry.records;
    expect(audit!.audit).to.equal('ns[shop]-policy[audit]-rule[0]');
    expect(dry!.audit).to.equal(undefined);
    expect(dry!.logHints).to.deep.include({
      istio_dry_run_deny_shadow_engine_result: 'denied', istio_dry_run_deny_shadow_effective_policy_id: 'ns[shop]-policy[dry]-rule[0]',
    });
    expect(decisions).to.deep.include({ protocol: 'http', filter: 'envoy.filters.http.rbac', action: 'LOG', decision: 'logged', policy: 'ns[shop]-policy[audit]-rule[0]', dryRun: false });
    expect(decisions).to.deep.include({ protocol: 'http', filter: 'envoy.filters.http.rbac', action: 'DENY', decision: 'denied', policy: 'ns[shop]-policy[dry]-rule[0]', dryRun: true, prefix: 'istio_dry_run_deny_' });
    expect(events.length).to.equal(decisions.length);
  });

  it('sees the path the connection manager normalized: bypass attempts are denied, case is not folded', async () => {
    const pc = config([rbacFilter({ rules: { action: 'DENY', policies: { deny: policy([exactPath('/admin'), path('/admin/')]) } } }), router],
      { normalizePath: { value: true }, mergeSlashes: true, pathWithEscapedSlashesAction: 'UNESCAPE_AND_FORWARD' });
    const { port } = await start(pc);
    for (const attempt of ['/admin', '/a/../admin', '//admin', '/%2Fadmin', '/%2fadmin/x', '/admin/.', '/%61dmin', '/admin?x', '/./admin', '/public/..%2Fadmin', '/admin%2F', '/%5Cadmin']) {
      const r = await send(port, attempt);
      expect([attempt, r.status]).to.deep.equal([attempt, 403]);
    }
    const fragment = await send(port, '/admin#');
    expect(fragment.status).to.equal(400);
    const upper = await send(port, '/ADMIN');
    expect(upper.status).to.equal(200);
    expect(JSON.parse(upper.body).path).to.equal('/ADMIN');
    const encoded = await send(port, '/%7euser/%41b%2Fc');
    expect(JSON.parse(encoded.body).path).to.equal('/~user/Ab/c');
  });

  it('rejects or redirects escaped slashes as path_with_escaped_slashes_action says', async () => {
    const deny = rbacFilter({ rules: { action: 'DENY', policies: { deny: policy([path('/admin')]) } } });
    const reject = await start(config([deny, router], { pathWithEscapedSlashesAction: 'REJECT_REQUEST' }));
    expect((await send(reject.port, '/%2Fadmin')).status).to.equal(400);
    expect((await send(reject.port, '/fine')).status).to.equal(200);
    const redirect = await start(config([deny, router], { pathWithEscapedSlashesAction: 'UNESCAPE_AND_REDIRECT', mergeSlashes: true }));
    const r = await send(redirect.port, '/x%2Fy');
    expect([r.status, r.headers.location]).to.deep.equal([307, '/x/y']);
    const keep = await start(config([deny, router], { pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' }));
    const k = await send(keep.port, '/%2Fadmin');
    expect(JSON.parse(k.body).path).to.equal('/%2Fadmin');
  });

  it('runs RBAC before the fault filter: a denied request is not aborted by the fault', async () => {
    const abort = { 'envoy.filters.http.fault': { '@type': FAULT, abort: { httpStatus: 503, percentage: { numerator: 100 } } } };
    const pc = config([rbacFilter({ rules: { action: 'DENY', policies: { deny: policy([path('/admin')]) } } }), fault, cors, router], {}, { typedPerFilterConfig: abort });
    const { runtime, port } = await start(pc);
    expect((await send(port, '/admin')).status).to.equal(403);
    expect((await send(port, '/other')).status).to.equal(503);
    await until(() => runtime.telemetry.records.length === 2);
    expect(runtime.telemetry.records.map((r) => r.flags)).to.deep.equal([[], ['FI']]);
  });

  it('applies to WebSocket upgrades too', async () => {
    const pc = config([rbacFilter({ rules: { action: 'DENY', policies: { deny: policy([path('/admin')]) } } }), router], { upgradeConfigs: [{ upgradeType: 'websocket' }] });
    const { runtime, port } = await start(pc);
    const answer = await new Promise<string>((resolve, reject) => {
      const c = connect(port, '127.0.0.1');
      let text = '';
      c.on('data', (d: Buffer) => { text += d.toString(); });
      c.on('close', () => resolve(text));
      c.on('error', reject);
      c.write('GET /admin HTTP/1.1\r\nHost: app\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    });
    expect(answer).to.match(/^HTTP\/1\.1 403 /);
    await until(() => runtime.telemetry.records.length === 1);
    expect(runtime.telemetry.records[0]).to.deep.include({ status: 403, details: 'rbac_access_denied_matched_policy[deny]' });
    expect(up.hits.filter((h) => h.url === '/admin')).to.have.length(0);
  });

  it('enforces network RBAC in front of the connection manager for every request of the connection', async () => {
    const pc = config([router]);
    const chain = (pc.listeners[0]!.filterChains as Array<{ filters: O[] }>)[0]!;
    chain.filters.unshift({ name: 'envoy.filters.network.rbac', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC', statPrefix: 'tcp.', rules: { action: 'ALLOW', policies: { mtls: policy([{ any: true }], [{ authenticated: {} }]) } } } });
    const plain = await start(pc);
    const r = await send(plain.port, '/x');
    expect([r.status, r.body]).to.deep.equal([403, 'RBAC: access denied']);
    await until(() => plain.runtime.telemetry.records.length === 1);
    expect(plain.runtime.telemetry.records[0]).to.deep.include({ status: 403, flags: [], details: 'rbac_access_denied_matched_policy[none]' });
    const mtls = await start(pc, PEER);
    expect((await send(mtls.port, '/x')).status).to.equal(200);
  });

  describe('the chain', () => {
    const order: string[] = [];
    const TEST_TYPE = 'weft.test.v1.Stage';
    const factory: StageFactory = (filter) => {
      const what = String(filter.config.what);
      return (req, next) => {
        order.push(filter.name);
        if (what === 'edit') {
          req.request.headers.set('x-added', ['by-stage']);
          req.request.headers.delete('x-remove-me');
          req.responseHeaders['x-stage'] = 'yes';
          next();
        } else if (what === 'throw') {
          throw new Error('stage bug');
        } else if (what === 'async') {
          setTimeout(next, 5);
        } else {
          next();
        }
      };
    };
    const stage = (name: string, what: string): O => ({ name, typedConfig: { '@type': `type.googleapis.com/${TEST_TYPE}`, what } });

    before(() => (STAGES as Map<string, StageFactory>).set(TEST_TYPE, factory));
    after(() => (STAGES as Map<string, StageFactory>).delete(TEST_TYPE));
    beforeEach(() => { order.length = 0; });

    it('runs stages in http_filters order; their header edits reach the upstream, their response headers the client', async () => {
      const { port } = await start(config([stage('first', 'async'), stage('second', 'edit'), stage('third', 'plain'), router, stage('after-router', 'plain')]));
      const r = await send(port, '/x', { headers: { 'x-remove-me': '1', 'x-keep': '2' } });
      expect(r.status).to.equal(200);
      expect(order).to.deep.equal(['first', 'second', 'third']);
      const seen = JSON.parse(r.body).headers;
      expect(seen['x-added']).to.equal('by-stage');
      expect(seen['x-remove-me']).to.equal(undefined);
      expect(seen['x-keep']).to.equal('2');
      expect(r.headers['x-stage']).to.equal('yes');
      // Local replies carry them too.
      const denied = await start(config([stage('edit', 'edit'), rbacFilter({ rules: { action: 'ALLOW' } }), router]));
      const d = await send(denied.port, '/x');
      expect([d.status, d.headers['x-stage']]).to.deep.equal([403, 'yes']);
    });

    it('answers 500 when a stage throws or a filter type is unknown, and keeps serving', async () => {
      const { port } = await start(config([stage('bad', 'throw'), router]));
      const r = await send(port, '/x');
      expect(r.status).to.equal(500);
      expect(r.body).to.match(/stage bug/);
      const unknown = await start(config([{ name: 'mystery', typedConfig: { '@type': 'type.googleapis.com/acme.Mystery' } }, router]));
      const u = await send(unknown.port, '/x');
      expect(u.status).to.equal(500);
      expect(u.body).to.match(/mystery/);
      expect((await send(port, '/y')).status).to.equal(500);
    });
  });
});

describe('proxy authz: decision metrics', () => {
  it('counts decisions per filter, action, decision, policy and dry run on /stats/prometheus', () => {
    const t = createTelemetry();
    const r: AuthzRecord = { protocol: 'http', filter: 'envoy.filters.http.rbac', action: 'DENY', decision: 'denied', policy: 'ns[a]-policy[x]-rule[0]', dryRun: false };
    t.authz!(r);
    t.authz!(r);
    t.authz!({ protocol: 'tcp', filter: 'envoy.filters.network.rbac', action: 'ALLOW', decision: 'allowed', dryRun: true, prefix: 'istio_dry_run_allow_' });
    const text = t.render();
    expect(text).to.include('weft_authz_decisions_total{protocol="http",filter="envoy.filters.http.rbac",action="DENY",decision="denied",policy="ns[a]-policy[x]-rule[0]",dry_run="false"} 2');
    expect(text).to.include('weft_authz_decisions_total{protocol="tcp",filter="envoy.filters.network.rbac/istio_dry_run_allow_",action="ALLOW",decision="allowed",policy="none",dry_run="true"} 1');
  });
});
