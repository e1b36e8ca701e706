// The cluster manager against real servers on 127.0.0.1: round robin over a STATIC cluster, pools kept across
// updates, ORIGINAL_DST with a bound source address, STRICT_DNS resolving localhost, HTTP/2 upstreams (configured
// and following the downstream), outlier ejection on real 5xx with an injected clock, circuit breaking, and
// connect() for TCP.
import { createServer as createH2Server } from 'node:http2';
import type { Http2Server } from 'node:http2';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { expect } from 'chai';
import type { Dispatcher } from 'undici';
import { createClusterManager, UpstreamConnectError } from '../../src/proxy/upstream/index.ts';
import type { WeftClusterManager } from '../../src/proxy/upstream/index.ts';
import { loaded, mapFiles, namedServer, seeded, staticCluster } from '../support/proxy-upstream-fixtures.ts';
import type { NamedServer } from '../support/proxy-upstream-fixtures.ts';
import { cla, edsCluster } from '../support/envoy-objects.ts';

async function get(d: Dispatcher, path = '/'): Promise<{ status: number; body: string }> {
  const res = await d.request({ method: 'GET', path });
  return { status: res.statusCode, body: await res.body.text() };
}

const files = mapFiles({});

describe('proxy upstream: clusters against real servers', function () {
  this.timeout(10_000);
  let servers: NamedServer[] = [];
  let manager: WeftClusterManager | undefined;

  afterEach(async () => {
    await manager?.close();
    manager = undefined;
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
  });

  it('round robin over a STATIC cluster reaches every server evenly', async () => {
    servers = await Promise.all(['a', 'b', 'c'].map((n) => namedServer(n)));
    manager = createClusterManager({ random: seeded(1) });
    manager.update(loaded([staticCluster('rr', servers.map((s) => s.address))]), files);
    const c = manager.get('rr')!;
    const seen: string[] = [];
    for (let i = 0; i < 30; i++) {
      const h = c.pick({})!;
      const res = await get(c.dispatcher(h));
      c.report(h, { kind: 'response', status: res.status, latencyMs: 1 });
      seen.push(res.body);
    }
    expect(seen.filter((b) => b === 'a')).to.have.length(10);
    expect(seen.filter((b) => b === 'b')).to.have.length(10);
    expect(seen.filter((b) => b === 'c')).to.have.length(10);
  });

  it('EDS clusters read their assignment; unhealthy and draining endpoints take no traffic', async () => {
    servers = await Promise.all(['a', 'b'].map((n) => namedServer(n)));
    manager = createClusterManager();
    const eds = edsCluster('svc', { lbPolicy: 'RANDOM', commonLbConfig: { healthyPanicThreshold: {} } });
    manager.update(loaded([eds], [cla('svc', [servers[0]!.address, { address: servers[1]!.address, health: 'DRAINING' }, { address: '127.0.0.1:1', health: 'UNHEALTHY' }])]), files);
    const c = manager.get('svc')!;
    for (let i = 0; i < 10; i++) expect(c.pick({})!.address).to.equal(servers[0]!.address);
    expect((await get(c.dispatcher(c.pick({})!))).body).to.equal('a');
  });

  it('update keeps the pool of an unchanged host and closes a removed one', async () => {
    servers = await Promise.all(['a', 'b'].map((n) => namedServer(n)));
    manager = createClusterManager();
    manager.update(loaded([staticCluster('c', servers.map((s) => s.address))]), files);
    const c = manager.get('c')!;
    const [ha, hb] = [c.pick({})!, c.pick({})!].sort((x, y) => (x.address === servers[0]!.address ? -1 : y.address === servers[0]!.address ? 1 : 0));
    const poolA = c.dispatcher(ha!);
    const poolB = c.dispatcher(hb!);
    await get(poolA);
    // Same cluster with only host a, plus a new cluster: a keeps its pool (and the cluster object), b's closes.
    manager.update(loaded([staticCluster('c', [servers[0]!.address]), staticCluster('other', [servers[1]!.address])], [], 'v2'), files);
    expect(manager.get('c')).to.equal(c);
    expect(c.dispatcher(ha!)).to.equal(poolA);
    expect((poolB as unknown as { closed: boolean }).closed).to.equal(true);
    expect((await get(poolA)).body).to.equal('a');
    // A changed connection setting (connect timeout) means new pools.
    manager.update(loaded([staticCluster('c', [servers[0]!.address], { connectTimeout: { seconds: 2 } })], [], 'v3'), files);
    expect(c.dispatcher(ha!)).to.not.equal(poolA);
    expect(manager.get('other')).to.equal(undefined);
  });

  it('ORIGINAL_DST forwards to the original destination from the bound source address', async () => {
    let from = '';
    servers = [await namedServer('dst', (req, res) => { from = req.socket.remoteAddress ?? ''; res.end('dst'); })];
    manager = createClusterManager();
    manager.update(loaded([{
      name: 'InboundPassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', connectTimeout: { seconds: 1 },
      upstreamBindConfig: { sourceAddress: { address: '127.0.0.6', portValue: 0 } },
    }]), files);
    const c = manager.get('InboundPassthroughCluster')!;
    expect(c.pick({})).to.equal(undefined);
    const h = c.pick({ originalDestination: servers[0]!.address })!;
    expect(h.address).to.equal(servers[0]!.address);
    expect((await get(c.dispatcher(h))).body).to.equal('dst');
    expect(from).to.equal('127.0.0.6');
  });

  it('STRICT_DNS resolves localhost into hosts', async () => {
    servers = [await namedServer('local')];
    manager = createClusterManager();
    manager.update(loaded([{
      ...staticCluster('dns', [`localhost:${servers[0]!.port}`]), type: 'STRICT_DNS', dnsLookupFamily: 'V4_ONLY', dnsRefreshRate: { seconds: 60 },
    }]), files);
    await manager.settled();
    const c = manager.get('dns')!;
    const h = c.pick({})!;
    expect(h.address).to.equal(`127.0.0.1:${servers[0]!.port}`);
    expect((await get(c.dispatcher(h))).body).to.equal('local');
  });

  it('ejects a host answering 5xx and brings it back after the base ejection time (injected clock)', async () => {
    servers = [await namedServer('good'), await namedServer('bad', (_req, res) => { res.statusCode = 500; res.end('bad'); })];
    let now = 1000;
    manager = createClusterManager({ now: () => now, random: seeded(5) });
    manager.update(loaded([staticCluster('od', servers.map((s) => s.address), {
      outlierDetection: { consecutive5xx: { value: 2 }, interval: { seconds: 10 }, baseEjectionTime: { seconds: 30 }, maxEjectionPercent: { value: 50 } },
      commonLbConfig: { healthyPanicThreshold: {} },
    })]), files);
    const c = manager.get('od')!;
    const bodies: string[] = [];
    for (let i = 0; i < 8; i++) {
      const h = c.pick({})!;
      const res = await get(c.dispatcher(h));
      c.report(h, { kind: 'response', status: res.status, latencyMs: 1 });
      bodies.push(res.body);
    }
    // Round robin: good, bad, good, bad (second 5xx ejects), then good only.
    expect(bodies.filter((b) => b === 'bad')).to.have.length(2);
    expect(bodies.slice(4).every((b) => b === 'good')).to.equal(true);
    now += 30_001;
    const back = new Set(Array.from({ length: 4 }, () => c.pick({})!.address));
    expect(back.has(servers[1]!.address)).to.equal(true);
  });

  it('circuit breaker: a request beyond max requests is refused while one is in flight', async () => {
    let release = () => {};
    servers = [await namedServer('slow', (_req, res) => { release = () => res.end('slow'); })];
    manager = createClusterManager();
    manager.update(loaded([staticCluster('cb', [servers[0]!.address], { circuitBreakers: { thresholds: [{ maxRequests: { value: 1 } }] } })]), files);
    const c = manager.get('cb')!;
    const done = c.admitRequest()!;
    const h = c.pick({})!;
    const pending = get(c.dispatcher(h));
    while (servers[0]!.requests === 0) await new Promise((r) => setTimeout(r, 2));
    expect(c.admitRequest()).to.equal(undefined);
    release();
    expect((await pending).body).to.equal('slow');
    done();
    expect(c.admitRequest()).to.be.a('function');
  });

  describe('HTTP/2', () => {
    let h2: Http2Server | undefined;
    afterEach(async () => {
      await new Promise<void>((r) => (h2 ? h2.close(() => r()) : r()));
      h2 = undefined;
    });

    async function h2Server(): Promise<string> {
      h2 = createH2Server((req, res) => res.end(`h2:${req.httpVersion}`));
      await new Promise<void>((r) => h2!.listen(0, '127.0.0.1', r));
      return `127.0.0.1:${(h2.address() as AddressInfo).port}`;
    }

    it('speaks HTTP/2 (prior knowledge) when the cluster is configured for it', async () => {
      const addr = await h2Server();
      manager = createClusterManager();
      manager.update(loaded([staticCluster('h2', [addr], {
        typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicitHttpConfig: { http2ProtocolOptions: {} },
        } },
      })]), files);
      const c = manager.get('h2')!;
      expect((await get(c.dispatcher(c.pick({})!))).body).to.equal('h2:2.0');
    });

    it('follows the downstream protocol when the cluster says so', async () => {
      const addr = await h2Server();
      servers = [];
      manager = createClusterManager();
      manager.update(loaded([staticCluster('ds', [addr], {
        typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} },
        } },
      })]), files);
      const c = manager.get('ds')!;
      const h = c.pick({})!;
      expect((await get(c.dispatcher(h, 'http2'))).body).to.equal('h2:2.0');
      expect(c.dispatcher(h, 'http1')).to.not.equal(c.dispatcher(h, 'http2'));
    });
  });

  it('connection failures reach the request as UpstreamConnectError (refused; timeout after connectTimeout)', async () => {
    // Accepts TCP and reads, but never answers the TLS handshake.
    const silent: NetServer = createNetServer((s) => s.resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      manager = createClusterManager();
      manager.update(loaded([
        staticCluster('closed', ['127.0.0.1:1']),
        staticCluster('slow-tls', [`127.0.0.1:${(silent.address() as AddressInfo).port}`], {
          connectTimeout: { nanos: 100_000_000 },
          transportSocket: { name: 'tls', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext' } },
        }),
      ]), files);
      const closed = manager.get('closed')!;
      const refused = await closed.dispatcher(closed.pick({})!).request({ method: 'GET', path: '/' }).then(() => undefined, (e: unknown) => e);
      expect(refused).to.be.instanceOf(UpstreamConnectError);
      expect((refused as UpstreamConnectError).code).to.equal('refused');
      const slow = manager.get('slow-tls')!;
      expect(slow.connectTimeoutMs).to.equal(100);
      const started = performance.now();
      const timedOut = await slow.dispatcher(slow.pick({})!).request({ method: 'GET', path: '/' }).then(() => undefined, (e: unknown) => e);
      expect((timedOut as UpstreamConnectError).code).to.equal('timeout');
      expect(performance.now() - started).to.be.within(90, 1000);
    } finally {
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('connect() opens a TCP connection to the host', async () => {
    const echo: NetServer = createNetServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    try {
      manager = createClusterManager();
      manager.update(loaded([staticCluster('tcp', [`127.0.0.1:${(echo.address() as AddressInfo).port}`])]), files);
      const c = manager.get('tcp')!;
      const sock = await c.connect(c.pick({})!);
      sock.write('ping');
      const got = await new Promise<string>((r) => sock.once('data', (d) => r(String(d))));
      sock.destroy();
      expect(got).to.equal('ping');
      // A closed port fails fast.
      manager.update(loaded([staticCluster('tcp', ['127.0.0.1:1'])], [], 'v2'), files);
      const err = await c.connect(c.pick({})!).then(() => undefined, (e: Error & { code?: string }) => e);
      expect(err?.code).to.equal('refused');
    } finally {
      await new Promise<void>((r) => echo.close(() => r()));
    }
  });
});
