// Connections whose TLS the listener layer already terminated (ALPN h2 → HTTP/2, http/1.1 → HTTP/1.1) on the
// inbound side: the destination reporter's telemetry with the peer's principal and mutual_tls,
// x-forwarded-client-cert, x-envoy-* headers from the untrusted downstream dropped; consistent-hash keys from the
// route's hash policy (with a generated cookie); HTTP/2 drain sends GOAWAY.
import { expect } from 'chai';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { createRootCa } from '../../src/pki/ca.ts';
import { spiffeId } from '../../src/pki/spiffe.ts';
import { issueWorkloadCert } from '../../src/pki/workload-cert.ts';
import { httpProxy, routeConfig, vhost } from '../support/envoy-objects.ts';
import { connContext, FixtureCluster, FixtureClusters, makeRuntime, startProxy, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { ProxyFront, Upstream } from '../support/proxy-http-fixtures.ts';
import { send } from '../support/proxy-http-client.ts';

const PEER = 'spiffe://cluster.local/ns/shop/sa/frontend';
const SELF = 'spiffe://cluster.local/ns/default/sa/client';

describe('proxy http: TLS-terminated inbound connections, hash keys, HTTP/2 drain', () => {
  let up: Upstream;
  let clusters: FixtureClusters;
  let runtime: ReturnType<typeof makeRuntime>;
  let server: tls.Server;
  let port: number;
  let ca: string;
  let handler: ReturnType<typeof import('../../src/proxy/http/index.ts').createHttpHandler>;

  before(async () => {
    up = await startUpstream((req, res) => res.end(JSON.stringify(req.headers)));
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster('inbound|8080||', [up.address], { service: { host: 'client.default.svc.cluster.local', name: 'client', namespace: 'default' } }));
    const rc = routeConfig('inbound', [vhost('in', ['*'], [
      { name: 'sticky', match: { prefix: '/sticky' }, route: { cluster: 'inbound|8080||', hashPolicy: [{ cookie: { name: 'affinity', ttl: { seconds: 30 }, path: '/' } }] } },
      { name: 'all', match: { prefix: '/' }, route: { cluster: 'inbound|8080||' } },
    ])]);
    const config = httpProxy(8080, rc);
    const hcm = ((config.listeners[0]!.filterChains as Array<{ filters: Array<{ typedConfig: Record<string, unknown> }> }>)[0]!.filters[0]!.typedConfig);
    hcm.forwardClientCertDetails = 'APPEND_FORWARD';
    hcm.useRemoteAddress = { value: true };
    config.workload.labels = { app: 'client', version: 'v1' };
    runtime = makeRuntime(config, clusters);
    runtime.live.identity = () => ({ certChain: '', key: '', rootCerts: '', spiffeId: SELF, notAfter: new Date(Date.now() + 3_600_000) });
    const root = await createRootCa();
    const cert = await issueWorkloadCert(root, spiffeId('cluster.local', 'default', 'client'));
    ca = cert.rootCertPem;
    const { createHttpHandler } = await import('../../src/proxy/http/index.ts');
    handler = createHttpHandler(runtime);
    server = tls.createServer({ key: cert.keyPem, cert: cert.certChainPem, ALPNProtocols: ['h2', 'http/1.1'] }, (socket) => {
      const protocol = socket.alpnProtocol === 'h2' ? 'http2' as const : 'http1' as const;
      handler.serve(socket, connContext(runtime, protocol, 8080, socket, { kind: 'inbound', tls: { peerPrincipal: PEER, alpn: String(socket.alpnProtocol) } }), protocol);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise((r) => server.close(r));
    await clusters.close();
    await up.close();
  });

  it('serves HTTP/2 over a TLS socket negotiated by ALPN, as the destination reporter', async () => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca, checkServerIdentity: () => undefined });
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/in', ':authority': 'client.default:8080', 'x-envoy-fault-abort-request': '500', 'x-envoy-original-path': '/x' });
      let data = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { data += c; });
      req.on('end', () => resolve(data));
      req.on('error', reject);
    });
    session.close();
    const seen = JSON.parse(body) as Record<string, string>;
    expect(seen['x-forwarded-proto']).to.equal('https');
    expect(seen['x-forwarded-client-cert']).to.equal(`By=${SELF};URI=${PEER}`);
    expect(seen['x-forwarded-for']).to.equal('127.0.0.1');
    expect(Object.keys(seen).filter((k) => k.startsWith('x-envoy-'))).to.deep.equal([]);
    const rec = runtime.telemetry.records.at(-1)!;
    expect(rec).to.deep.include({
      reporter: 'destination', status: 200, httpVersion: 'HTTP/2', connectionSecurityPolicy: 'mutual_tls',
      source: { principal: PEER, namespace: 'shop' },
      destination: { workload: 'client', namespace: 'default', app: 'client', version: 'v1', principal: SELF, service: { host: 'client.default.svc.cluster.local', name: 'client', namespace: 'default' } },
    });
  });

  it('serves HTTP/1.1 over TLS when the client does not offer h2', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const options: https.RequestOptions = { host: '127.0.0.1', port, path: '/h1', ca, checkServerIdentity: () => undefined, headers: { host: 'client' } };
      https.get(options, (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { data += c; });
        res.on('end', () => resolve(data));
      }).on('error', reject);
    });
    expect(JSON.parse(body)['x-forwarded-proto']).to.equal('https');
    expect(runtime.telemetry.records.at(-1)!.httpVersion).to.equal('HTTP/1.1');
  });

  it('hashes on the route cookie, generating it with its ttl when absent', async () => {
    const front: ProxyFront = await startProxy(runtime, 'http1', 8080, { kind: 'inbound' });
    try {
      const c = clusters.map.get('inbound|8080||')!;
      const first = await send(front.port, '/sticky');
      const cookie = String(first.headers['set-cookie']);
      expect(cookie).to.match(/^affinity="([0-9a-f]+)"; Max-Age=30; Path=\/; HttpOnly$/);
      const value = /affinity="([0-9a-f]+)"/.exec(cookie)![1]!;
      expect(c.picks.at(-1)!.hashKey).to.equal(value);
      const again = await send(front.port, '/sticky', { headers: { cookie: `affinity="${value}"` } });
      expect(again.headers['set-cookie']).to.equal(undefined);
      expect(c.picks.at(-1)!.hashKey).to.equal(value);
    } finally {
      await front.close();
    }
  });

  it('sends GOAWAY to HTTP/2 clients on drain', async () => {
    const front = await startProxy(runtime, 'http2', 8080, { kind: 'inbound' });
    try {
      const session = http2.connect(`http://127.0.0.1:${front.port}`);
      const status = await new Promise<unknown>((resolve, reject) => {
        const req = session.request({ ':path': '/' });
        let s: unknown;
        req.on('response', (h) => { s = h[':status']; });
        req.resume();
        req.on('end', () => resolve(s));
        req.on('error', reject);
      });
      expect(status).to.equal(200);
      const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
      await front.handler.drain(500);
      // A graceful GOAWAY (NO_ERROR), and nothing left in flight.
      expect(await goaway).to.equal(http2.constants.NGHTTP2_NO_ERROR);
      expect(front.handler.inFlight()).to.equal(0);
      session.destroy();
    } finally {
      await front.close();
    }
  });
});
