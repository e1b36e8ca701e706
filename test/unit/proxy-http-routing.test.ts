// The HTTP handler executes the routing core's actions against real loopback servers: first match wins,
// weighted splits by the injected random source, rewrites, redirects, direct responses, header operations,
// the local replies with their response flags (NR, NC, UH, UO), and the connection manager's Host port stripping.
import { expect } from 'chai';
import { hcm, httpProxy, listener, proxyConfig, routeConfig, vhost } from '../support/envoy-objects.ts';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createHttpHandler } from '../../src/proxy/http/index.ts';
import { connContext, FixtureCluster, FixtureClusters, makeRuntime, startProxy, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { ProxyFront, Upstream } from '../support/proxy-http-fixtures.ts';
import { send } from '../support/proxy-http-client.ts';

describe('proxy http: routing actions', () => {
  let a: Upstream;
  let b: Upstream;
  let proxy: ProxyFront;
  let clusters: FixtureClusters;
  let rand = 0.1;
  let runtime: ReturnType<typeof makeRuntime>;

  before(async () => {
    const answer = (name: string) => (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      res.setHeader('x-secret', 'hidden');
      res.setHeader('x-upstream', name);
      res.end(JSON.stringify({ name, url: req.url, host: req.headers.host, added: req.headers['x-added'] ?? null }));
    };
    a = await startUpstream(answer('a'));
    b = await startUpstream(answer('b'));
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster('a', [a.address]));
    clusters.add(new FixtureCluster('b', [b.address]));
    clusters.add(new FixtureCluster('empty', []));
    clusters.add(new FixtureCluster('full', [a.address], { maxRequests: 0 }));
    const rc = routeConfig('8080', [vhost('web', ['example.com'], [
      { name: 'redirect', match: { prefix: '/old' }, redirect: { pathRedirect: '/new', responseCode: 'FOUND' } },
      { name: 'direct', match: { prefix: '/direct' }, directResponse: { status: 418, body: { inlineString: 'teapot' } } },
      {
        name: 'rewrite', match: { prefix: '/api/' }, route: { cluster: 'a', prefixRewrite: '/v2/', hostRewriteLiteral: 'backend.internal' },
        requestHeadersToAdd: [{ header: { key: 'x-added', value: 'yes' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
        responseHeadersToAdd: [{ header: { key: 'x-resp', value: 'r' } }],
        responseHeadersToRemove: ['x-secret'],
      },
      { name: 'split', match: { prefix: '/split' }, route: { weightedClusters: { clusters: [{ name: 'a', weight: { value: 30 } }, { name: 'b', weight: { value: 70 } }] } } },
      { name: 'first', match: { prefix: '/first' }, route: { cluster: 'a' } },
      { name: 'second', match: { prefix: '/first' }, route: { cluster: 'b' } },
      { name: 'nc', match: { prefix: '/nc' }, route: { cluster: 'nope' } },
      { name: 'uh', match: { prefix: '/uh' }, route: { cluster: 'empty' } },
      { name: 'uo', match: { prefix: '/uo' }, route: { cluster: 'full' } },
    ])]);
    runtime = makeRuntime(httpProxy(8080, rc), clusters, () => rand);
    proxy = await startProxy(runtime, 'http1', 8080);
  });

  after(async () => {
    await proxy.close();
    await clusters.close();
    await a.close();
    await b.close();
  });

  it('the first matching route wins', async () => {
    const r = await send(proxy.port, '/first/x');
    expect(r.status).to.equal(200);
    expect(JSON.parse(r.body).name).to.equal('a');
  });

  it('splits by weight with the injected random value', async () => {
    rand = 0.1;
    expect(JSON.parse((await send(proxy.port, '/split')).body).name).to.equal('a');
    rand = 0.9;
    expect(JSON.parse((await send(proxy.port, '/split')).body).name).to.equal('b');
    rand = 0.1;
  });

  it('rewrites the path prefix and host, adds request headers, applies response header operations', async () => {
    const r = await send(proxy.port, '/api/items?q=1', { headers: { 'x-added': 'from-client' } });
    const seen = JSON.parse(r.body);
    expect(seen).to.include({ name: 'a', url: '/v2/items?q=1', host: 'backend.internal', added: 'yes' });
    expect(r.headers['x-resp']).to.equal('r');
    expect(r.headers['x-secret']).to.equal(undefined);
    expect(r.headers['x-upstream']).to.equal('a');
  });

  it('answers redirects and direct responses itself', async () => {
    const hits = a.hits.length + b.hits.length;
    const red = await send(proxy.port, '/old/page?x=1');
    expect(red.status).to.equal(302);
    expect(red.headers.location).to.equal('http://example.com/new?x=1');
    const direct = await send(proxy.port, '/direct');
    expect(direct.status).to.equal(418);
    expect(direct.body).to.equal('teapot');
    expect(a.hits.length + b.hits.length).to.equal(hits);
  });

  it('sets the response flags of local replies: NR, NC, UH, UO', async () => {
    runtime.telemetry.records.length = 0;
    expect((await send(proxy.port, '/x', { headers: { host: 'other.com' } })).status).to.equal(404);
    expect((await send(proxy.port, '/nc')).status).to.equal(503);
    expect((await send(proxy.port, '/uh')).status).to.equal(503);
    const uo = await send(proxy.port, '/uo');
    expect(uo.status).to.equal(503);
    expect(uo.body).to.contain('overflow');
    expect(runtime.telemetry.records.map((r) => r.flags.join(','))).to.deep.equal(['NR', 'NC', 'UH', 'UO']);
  });

  it('answers 500, and keeps serving, when handling a request throws', async () => {
    const handler = createHttpHandler(runtime);
    const server = net.createServer((socket) => {
      const ctx = connContext(runtime, 'http1', 8080, socket);
      handler.serve(socket, { ...ctx, plan: () => { throw new Error('broken plan'); } }, 'http1');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const r = await send(port, '/first');
      expect(r.status).to.equal(500);
      expect(r.body).to.contain('broken plan');
      expect((await send(proxy.port, '/first')).status).to.equal(200);
    } finally {
      server.close();
    }
  });

  it('records one telemetry record per request with the upstream and the trace ids', async () => {
    runtime.telemetry.records.length = 0;
    await send(proxy.port, '/first');
    const [rec] = runtime.telemetry.records;
    expect(rec).to.include({ reporter: 'source', status: 200, upstreamCluster: 'a', upstreamHost: a.address, method: 'GET', route: 'first' });
    expect(rec!.traceId).to.match(/^[0-9a-f]{32}$/);
    expect(rec!.requestId).to.be.a('string');
    expect(rec!.responseBytes).to.be.greaterThan(0);
  });
});

describe('proxy http: the Host port before virtual host selection', () => {
  let up: Upstream;
  let clusters: FixtureClusters;
  const proxies: ProxyFront[] = [];

  // A proxy for port 8080 whose connection manager strips the Host port as `strip` says; the upstream echoes Host.
  async function stripping(strip: Record<string, boolean>): Promise<ProxyFront> {
    const rc = routeConfig('8080', [vhost('web', ['example.com'], [{ name: 'all', match: { prefix: '/' }, route: { cluster: 'a' } }])]);
    const config = proxyConfig({ listeners: [listener('0.0.0.0_8080', '0.0.0.0', 8080, [{ filters: [hcm('8080', strip)] }])], routes: [rc] });
    const p = await startProxy(makeRuntime(config, clusters), 'http1', 8080);
    proxies.push(p);
    return p;
  }

  before(async () => {
    up = await startUpstream((req, res) => res.end(String(req.headers.host)));
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster('a', [up.address]));
  });

  after(async () => {
    for (const p of proxies) await p.close();
    await clusters.close();
    await up.close();
  });

  it('strip_matching_host_port removes the port only when it is the listener port', async () => {
    const p = await stripping({ stripMatchingHostPort: true });
    const matching = await send(p.port, '/', { headers: { host: 'example.com:8080' } });
    expect([matching.status, matching.body]).to.deep.equal([200, 'example.com']);
    expect((await send(p.port, '/', { headers: { host: 'example.com:9090' } })).status).to.equal(404);
  });

  it('strip_any_host_port removes any port; without either the port stays part of the host', async () => {
    const any = await stripping({ stripAnyHostPort: true });
    const r = await send(any.port, '/', { headers: { host: 'example.com:9090' } });
    expect([r.status, r.body]).to.deep.equal([200, 'example.com']);
    const none = await stripping({});
    expect((await send(none.port, '/', { headers: { host: 'example.com:8080' } })).status).to.equal(404);
  });
});
