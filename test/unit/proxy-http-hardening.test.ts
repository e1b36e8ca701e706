// The downstream HTTP/1.1 server refuses what could smuggle or exhaust: conflicting or malformed framing (400),
// oversized header blocks (431), a missing Host (400), headers sent too slowly (408 and close); keep-alive and
// pipelined requests are answered in order; drain() closes keep-alive connections and waits for requests.
import { expect } from 'chai';
import http2 from 'node:http2';
import net from 'node:net';
import { httpProxy, routeConfig, vhost } from '../support/envoy-objects.ts';
import { FixtureCluster, FixtureClusters, makeRuntime, startProxy, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { ProxyFront, Upstream } from '../support/proxy-http-fixtures.ts';

/** Writes raw bytes, returns everything read until the server closes (or `waitMs` passes). */
function raw(port: number, data: string | string[], waitMs = 1500, gapMs = 0): Promise<{ text: string; closed: boolean; ms: number }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false, ms: performance.now() - t });
    }, waitMs);
    s.setEncoding('utf8');
    s.on('data', (c: string) => { text += c; });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true, ms: performance.now() - t });
    });
    // The server closing while the client still trickles bytes in can end in a reset: what was read counts.
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ECONNRESET' && text !== '') resolve({ text, closed: true, ms: performance.now() - t });
      else reject(e);
    });
    const parts = typeof data === 'string' ? [data] : data;
    let i = 0;
    const next = (): void => {
      if (i >= parts.length || s.destroyed) return;
      s.write(parts[i++]!);
      setTimeout(next, gapMs);
    };
    s.on('connect', next);
  });
}

const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

describe('proxy http: downstream hardening', () => {
  let up: Upstream;
  let proxy: ProxyFront;
  let clusters: FixtureClusters;
  let slowReply = false;
  let runtime: ReturnType<typeof makeRuntime>;

  before(async () => {
    up = await startUpstream((req, res, body) => {
      if (slowReply) setTimeout(() => res.end(`${req.url}:${body}`), 150);
      else res.end(`${req.url}:${body}`);
    });
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster('up', [up.address]));
    const rc = routeConfig('8080', [vhost('web', ['*'], [{ name: 'all', match: { prefix: '/' }, route: { cluster: 'up' } }])]);
    runtime = makeRuntime(httpProxy(8080, rc), clusters);
    proxy = await startProxy(runtime, 'http1', 8080, { options: { maxHeaderSize: 8 * 1024, headersTimeoutMs: 200, timeoutCheckIntervalMs: 50 } });
  });

  after(async () => {
    await proxy.close();
    await clusters.close();
    await up.close();
  });

  it('rejects Content-Length together with Transfer-Encoding (400) and never forwards it', async () => {
    const hits = up.hits.length;
    const r = await raw(proxy.port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(statuses(r.text)).to.deep.equal([400]);
    expect(r.closed).to.equal(true);
    expect(up.hits.length).to.equal(hits);
  });

  it('records the requests the parser rejects with the DPE flag and the status answered (400, 431, 408)', async () => {
    const dpe = () => runtime.telemetry.records.filter((r) => r.flags.includes('DPE')).map((r) => r.status);
    const before = dpe().length;
    await raw(proxy.port, 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    await raw(proxy.port, `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(10 * 1024)}\r\n\r\n`);
    const slow = await raw(proxy.port, 'GET / HTTP/1.1\r\nHost: a\r\n', 2000);
    expect(statuses(slow.text)).to.deep.equal([408]);
    expect(dpe().slice(before)).to.deep.equal([400, 431, 408]);
    const rec = runtime.telemetry.records.filter((r) => r.flags.includes('DPE')).at(-1)!;
    expect([rec.reporter, rec.httpVersion, rec.flags]).to.deep.equal(['source', 'HTTP/1.1', ['DPE']]);
  });

  it('rejects differing duplicate Content-Length, bad chunk sizes and obfuscated Transfer-Encoding (400)', async () => {
    for (const req of [
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a\rb\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nX-Nul: a\u0000b\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc',
      'GET / HTTP/1.1\nHost: a\n\n',
    ]) {
      const r = await raw(proxy.port, req);
      expect(statuses(r.text), req).to.deep.equal([400]);
    }
  });

  it('requires a Host header on HTTP/1.1 and an origin-form or absolute-form target (400)', async () => {
    expect(statuses((await raw(proxy.port, 'GET / HTTP/1.1\r\n\r\n')).text)).to.deep.equal([400]);
    expect(statuses((await raw(proxy.port, 'GET foo HTTP/1.1\r\nHost: a\r\n\r\n')).text)).to.deep.equal([400]);
    const abs = await raw(proxy.port, 'GET http://b.example/abs?q HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(statuses(abs.text)).to.deep.equal([200]);
    expect(up.hits.at(-1)!.headers.host).to.equal('b.example');
    expect(up.hits.at(-1)!.url).to.equal('/abs?q');
  });

  it('answers 431 to an oversized header block', async () => {
    const r = await raw(proxy.port, `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(10 * 1024)}\r\n\r\n`);
    expect(statuses(r.text)).to.deep.equal([431]);
    expect(r.closed).to.equal(true);
  });

  it('answers 431 to an oversized HTTP/2 header block too', async () => {
    const front = await startProxy(runtime, 'http2', 8080, { options: { maxHeaderSize: 8 * 1024 } });
    try {
      const session = http2.connect(`http://127.0.0.1:${front.port}`);
      const status = (headers: http2.OutgoingHttpHeaders) => new Promise<unknown>((resolve, reject) => {
        const req = session.request({ ':path': '/', ...headers });
        req.on('response', (h) => resolve(h[':status']));
        req.on('error', reject);
        req.resume();
      });
      expect(await status({ 'x-big': 'x'.repeat(10 * 1024) })).to.equal(431);
      expect(await status({ 'x-small': 'x' })).to.equal(200);
      session.close();
    } finally {
      await front.close();
    }
  });

  it('answers 431 to more than 100 headers', async () => {
    const many = Array.from({ length: 101 }, (_, i) => `X-H${i}: v\r\n`).join('');
    expect(statuses((await raw(proxy.port, `GET / HTTP/1.1\r\nHost: a\r\n${many}\r\n`)).text)).to.deep.equal([431]);
    const fine = Array.from({ length: 90 }, (_, i) => `X-H${i}: v\r\n`).join('');
    expect(statuses((await raw(proxy.port, `GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n${fine}\r\n`)).text)).to.deep.equal([200]);
  });

  it('closes a connection whose headers arrive too slowly (slowloris)', async () => {
    const r = await raw(proxy.port, ['GET / HTTP/1.1\r\n', 'Host: a\r\n', 'X-1: a\r\n', 'X-2: a\r\n', 'X-3: a\r\n', 'X-4: a\r\n'], 2000, 80);
    expect(r.closed).to.equal(true);
    expect(r.ms).to.be.below(1000);
    expect(statuses(r.text)).to.deep.equal([408]);
  });

  it('treats an Upgrade other than websocket as a plain request and drops the upgrade headers', async () => {
    const r = await raw(proxy.port, 'GET /up HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n', 300);
    expect(statuses(r.text)).to.deep.equal([200]);
    const seen = up.hits.at(-1)!.headers;
    expect([seen.upgrade, seen['http2-settings'], seen.connection]).to.deep.equal([undefined, undefined, 'keep-alive']);
  });

  it('answers pipelined requests on one keep-alive connection in order', async () => {
    const r = await raw(proxy.port, 'GET /one HTTP/1.1\r\nHost: a\r\n\r\nPOST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /three HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(statuses(r.text)).to.deep.equal([200, 200, 200]);
    const bodies = [...r.text.matchAll(/\r\n\r\n([^H]*)/g)].map((m) => m[1]);
    expect(bodies).to.deep.equal(['/one:', '/two:abc', '/three:']);
  });

  it('drain() answers in-flight requests with Connection: close and resolves when they are done', async () => {
    slowReply = true;
    const pending = raw(proxy.port, 'GET /slow HTTP/1.1\r\nHost: a\r\n\r\n', 1500);
    await new Promise((res) => setTimeout(res, 50));
    expect(proxy.handler.inFlight()).to.equal(1);
    await proxy.handler.drain(1000);
    expect(proxy.handler.inFlight()).to.equal(0);
    const r = await pending;
    slowReply = false;
    expect(statuses(r.text)).to.deep.equal([200]);
    expect(r.text.toLowerCase()).to.contain('connection: close');
    expect(r.closed).to.equal(true);
  });
});
