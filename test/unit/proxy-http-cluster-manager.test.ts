// The HTTP handler over the sidecar's real ClusterManager (src/proxy/upstream) rather than the test fixture:
// static clusters from the same config the router reads, retries that move off a dead endpoint, HTTP/2 to an
// h2c upstream (gRPC with trailers), and circuit-breaker overflow answered 503 UO.
import { expect } from 'chai';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { LoadedConfig } from '../../src/proxy/runtime.ts';
import { compileProxy } from '../../src/proxy/routing/engine.ts';
import { createClusterManager } from '../../src/proxy/upstream/index.ts';
import type { WeftClusterManager } from '../../src/proxy/upstream/index.ts';
import { httpProxy, routeConfig, vhost } from '../support/envoy-objects.ts';
import { makeRuntime, startProxy, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { ProxyFront, Upstream } from '../support/proxy-http-fixtures.ts';
import { freePort } from '../support/proxy-net-fixtures.ts';
import { send } from '../support/proxy-http-client.ts';
import { staticCluster } from '../support/proxy-upstream-fixtures.ts';

describe('proxy http: over the real cluster manager', () => {
  let ok: Upstream;
  let slow: Upstream;
  let grpc: http2.Http2Server;
  let manager: WeftClusterManager;
  let proxy: ProxyFront;
  let proxy2: ProxyFront;
  let runtime: ReturnType<typeof makeRuntime>;

  before(async () => {
    ok = await startUpstream((req, res) => res.end(`ok ${req.url}`));
    slow = await startUpstream((_req, res) => setTimeout(() => res.end('slow'), 100));
    grpc = http2.createServer();
    grpc.on('stream', (stream) => {
      stream.resume();
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.from([0, 0, 0, 0, 2, 0x68, 0x69]));
      });
    });
    await new Promise<void>((r) => grpc.listen(0, '127.0.0.1', r));
    const dead = `127.0.0.1:${await freePort()}`;
    const h2 = { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} } } } };
    const clusters = [
      staticCluster('pair', [dead, ok.address], { lbPolicy: 'ROUND_ROBIN' }),
      staticCluster('one', [slow.address], { circuitBreakers: { thresholds: [{ maxRequests: { value: 1 } }] } }),
      staticCluster('grpc', [`127.0.0.1:${(grpc.address() as AddressInfo).port}`], h2),
      // A port of unknown protocol: the upstream speaks whatever the downstream spoke.
      staticCluster('follow', [`127.0.0.1:${(grpc.address() as AddressInfo).port}`], { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} },
      } } }),
    ];
    const retry = { retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', numRetries: { value: 2 }, retriableStatusCodes: [503], retryHostPredicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }], hostSelectionRetryMaxAttempts: '5' };
    const rc = routeConfig('8080', [vhost('web', ['*'], [
      { name: 'grpc', match: { prefix: '/pkg.' }, route: { cluster: 'grpc', timeout: {} } },
      { name: 'follow', match: { prefix: '/follow.' }, route: { cluster: 'follow', timeout: {} } },
      { name: 'one', match: { prefix: '/one' }, route: { cluster: 'one', timeout: {} } },
      { name: 'pair', match: { prefix: '/' }, route: { cluster: 'pair', timeout: {}, retryPolicy: retry } },
    ])]);
    const config = httpProxy(8080, rc, clusters);
    const loaded: LoadedConfig = { version: 'v1', config, compiled: compileProxy(config), loadedAt: new Date() };
    manager = createClusterManager();
    manager.update(loaded, { read: () => undefined });
    await manager.settled();
    runtime = makeRuntime(config, manager);
    proxy = await startProxy(runtime, 'http1', 8080);
    proxy2 = await startProxy(runtime, 'http2', 8080);
  });

  after(async () => {
    await proxy.close();
    await proxy2.close();
    await manager.close();
    await ok.close();
    await slow.close();
    await new Promise((r) => grpc.close(r));
  });

  it('reaches the live endpoint every time: connect failures are retried on another host', async () => {
    for (let i = 0; i < 6; i++) {
      const r = await send(proxy.port, `/r${i}`);
      expect(r.status).to.equal(200);
      expect(r.body).to.equal(`ok /r${i}`);
    }
  });

  it('answers 503 UO when the circuit breaker is full', async () => {
    runtime.telemetry.records.length = 0;
    const [a, b] = await Promise.all([send(proxy.port, '/one'), send(proxy.port, '/one')]);
    expect([a.status, b.status].sort()).to.deep.equal([200, 503]);
    expect(runtime.telemetry.records.map((r) => r.flags.join(',')).sort()).to.deep.equal(['', 'UO']);
  });

  for (const [what, path] of [['an h2c upstream', '/pkg.Svc/M'], ['a cluster that follows the downstream protocol', '/follow.Svc/M']]) {
    it(`speaks HTTP/2 to ${what} and returns its trailers`, async () => {
      await grpcCall(path!);
    });
  }

  async function grpcCall(path: string): Promise<void> {
    const session = http2.connect(`http://127.0.0.1:${proxy2.port}`);
    const out = await new Promise<{ status: unknown; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
      let status: unknown;
      req.on('response', (h) => { status = h[':status']; });
      req.on('trailers', (t) => resolve({ status, trailers: t }));
      req.on('error', reject);
      req.resume();
      req.end(Buffer.from([0, 0, 0, 0, 0]));
    });
    session.close();
    expect(out.status).to.equal(200);
    expect(out.trailers['grpc-status']).to.equal('0');
  }
});
