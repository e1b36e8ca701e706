// Bodies and broken streams: request bodies larger than the buffer limit stream upstream (retries then off),
// bodies without a retry policy stream, large responses stream back with backpressure, a client that goes
// away is recorded as DC and its upstream request is cancelled, an upstream reset mid-response resets the
// downstream (UC), and a reset before the response headers is a 503 (UC).
import { expect } from 'chai';
import http from 'node:http';
import { httpProxy, routeConfig, vhost } from '../support/envoy-objects.ts';
import { FixtureCluster, FixtureClusters, makeRuntime, startProxy, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { ProxyFront, Upstream } from '../support/proxy-http-fixtures.ts';
import { send } from '../support/proxy-http-client.ts';

describe('proxy http: bodies and broken streams', () => {
  let echo: Upstream;
  let hang: Upstream;
  let broken: Upstream;
  let big: Upstream;
  let proxy: ProxyFront;
  let clusters: FixtureClusters;
  let runtime: ReturnType<typeof makeRuntime>;
  let hangClosed = 0;

  before(async () => {
    echo = await startUpstream((_req, res, body) => res.end(`${body.length}:${body.slice(0, 3)}${body.slice(-3)}`));
    hang = await startUpstream((req) => { req.socket.on('close', () => hangClosed++); });
    broken = await startUpstream((req, res) => {
      if (req.url === '/broken/before') {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-length': '100000' });
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 20);
    });
    big = await startUpstream((_req, res) => {
      const chunk = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 64; i++) res.write(chunk);
      res.end();
    });
    clusters = new FixtureClusters();
    for (const [name, u] of [['echo', echo], ['hang', hang], ['broken', broken], ['big', big]] as const) clusters.add(new FixtureCluster(name, [u.address]));
    const rc = routeConfig('8080', [vhost('web', ['*'], [
      { name: 'retried', match: { prefix: '/retried' }, route: { cluster: 'echo', retryPolicy: { retryOn: '5xx', numRetries: { value: 1 } } } },
      { name: 'plain', match: { prefix: '/plain' }, route: { cluster: 'echo' } },
      { name: 'hang', match: { prefix: '/hang' }, route: { cluster: 'hang' } },
      { name: 'broken', match: { prefix: '/broken' }, route: { cluster: 'broken' } },
      { name: 'big', match: { prefix: '/big' }, route: { cluster: 'big' } },
    ])]);
    runtime = makeRuntime(httpProxy(8080, rc), clusters);
    proxy = await startProxy(runtime, 'http1', 8080, { options: { bufferLimitBytes: 1024 } });
  });

  after(async () => {
    await proxy.close();
    await clusters.close();
    for (const u of [echo, hang, broken, big]) await u.close();
  });

  it('streams a body over the buffer limit even when retries are configured', async () => {
    const body = `abc${'m'.repeat(50_000)}xyz`;
    const r = await send(proxy.port, '/retried', { method: 'POST', body });
    expect(r.body).to.equal(`${body.length}:abcxyz`);
    expect(runtime.telemetry.records.at(-1)!.requestBytes).to.equal(body.length);
  });

  it('streams bodies (chunked) when no retry or mirror needs them', async () => {
    const r = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: proxy.port, path: '/plain', method: 'POST', agent: false, headers: { host: 'a' } }, (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { data += c; });
        res.on('end', () => resolve(data));
      });
      req.on('error', reject);
      req.write('abc');
      setTimeout(() => req.end('defxyz'), 20);
    });
    expect(r).to.equal('9:abcxyz');
    expect(runtime.telemetry.records.at(-1)!.requestBytes).to.equal(9);
  });

  it('streams a large response back', async () => {
    const r = await send(proxy.port, '/big');
    expect(r.body.length).to.equal(64 * 64 * 1024);
    expect(runtime.telemetry.records.at(-1)!.responseBytes).to.equal(64 * 64 * 1024);
  });

  it('records DC and cancels the upstream request when the client goes away', async () => {
    const closedBefore = hangClosed;
    const req = http.request({ host: '127.0.0.1', port: proxy.port, path: '/hang', agent: false, headers: { host: 'a' } });
    req.on('error', () => {});
    req.end();
    for (let i = 0; i < 50 && hang.hits.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    req.destroy();
    for (let i = 0; i < 50 && hangClosed === closedBefore; i++) await new Promise((r) => setTimeout(r, 10));
    expect(hangClosed).to.equal(closedBefore + 1);
    expect(runtime.telemetry.records.at(-1)!.flags).to.deep.equal(['DC']);
    expect(proxy.handler.inFlight()).to.equal(0);
  });

  it('resets the downstream when the upstream resets mid-response (UC), answers 503 UC before headers', async () => {
    const err = await send(proxy.port, '/broken/mid').then(() => undefined, (e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    for (let i = 0; i < 50 && runtime.telemetry.records.at(-1)?.path !== '/broken/mid'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(runtime.telemetry.records.at(-1)).to.deep.include({ path: '/broken/mid', status: 200, flags: ['UC'] });
    const before = await send(proxy.port, '/broken/before');
    expect(before.status).to.equal(503);
    expect(before.body).to.contain('connection termination');
    expect(runtime.telemetry.records.at(-1)!.flags).to.deep.equal(['UC']);
  });
});
