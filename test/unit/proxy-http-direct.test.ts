// The direct HTTP/1.1 response write (h1-direct.ts): a whole content-length answer goes out in one piece with
// exactly the head node:http would write; pipelined answers keep their order when a later upstream answers
// first; Connection: close, drain, HEAD, responses without Date and multi-chunk bodies take node's path and
// stay correct; records are the same either way.
import { expect } from 'chai';
import net from 'node:net';
import { httpProxy, routeConfig, vhost } from '../support/envoy-objects.ts';
import { FixtureCluster, FixtureClusters, makeRuntime, startProxy, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { ProxyFront, Upstream } from '../support/proxy-http-fixtures.ts';

/** Writes `data`, returns what was read once `count` responses arrived (or the server closed / 1.5 s passed). */
function exchange(port: number, data: string, until: (text: string) => boolean): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => finish(false), 1500);
    s.setEncoding('latin1');
    s.on('data', (c: string) => {
      text += c;
      if (until(text)) setTimeout(() => finish(s.readableEnded), 30);
    });
    s.on('end', () => finish(true));
    s.on('error', reject);
    s.on('connect', () => s.write(data));
  });
}

const count = (n: number) => (t: string) => (t.match(/HTTP\/1\.1 \d{3}/g) ?? []).length >= n;

describe('proxy http: direct HTTP/1.1 responses', () => {
  let up: Upstream;
  let proxy: ProxyFront;
  let clusters: FixtureClusters;
  let runtime: ReturnType<typeof makeRuntime>;

  before(async () => {
    up = await startUpstream((req, res) => {
      const body = `${req.url}!`;
      if (req.url === '/slow') {
        setTimeout(() => res.end(body), 80);
      } else if (req.url === '/nodate') {
        res.sendDate = false;
        res.end(body);
      } else if (req.url === '/chunks') {
        res.writeHead(200, { 'content-length': '6' });
        res.write('abc');
        setTimeout(() => res.end('def'), 10);
      } else {
        res.writeHead(201, { 'content-type': 'text/plain', 'x-multi': ['a', 'b'], 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }
    });
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster('up', [up.address]));
    const rc = routeConfig('8080', [vhost('web', ['*'], [{ name: 'all', match: { prefix: '/' }, route: { cluster: 'up' } }])]);
    runtime = makeRuntime(httpProxy(8080, rc), clusters);
    proxy = await startProxy(runtime, 'http1', 8080);
  });

  after(async () => {
    await proxy.close();
    await clusters.close();
    await up.close();
  });

  it('writes the head node:http would write, then the body, and keeps the connection open', async () => {
    const r = await exchange(proxy.port, 'GET /one HTTP/1.1\r\nHost: a\r\n\r\n', count(1));
    const [head, body] = r.text.split('\r\n\r\n');
    const lines = head!.split('\r\n');
    expect(lines[0]).to.equal('HTTP/1.1 201 Created');
    expect(lines).to.include.members(['content-type: text/plain', 'x-multi: a', 'x-multi: b', 'content-length: 5', 'Connection: keep-alive', 'Keep-Alive: timeout=60']);
    expect(lines.some((l) => l.startsWith('date: '))).to.equal(true);
    expect(body).to.equal('/one!');
    expect(r.closed).to.equal(false);
    const rec = runtime.telemetry.records.at(-1)!;
    expect([rec.status, rec.responseBytes, rec.flags]).to.deep.equal([201, 5, []]);
  });

  it('keeps pipelined answers in order when a later upstream answers first, and honours Connection: close', async () => {
    const r = await exchange(proxy.port,
      'GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\nGET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', () => false);
    expect([...r.text.matchAll(/\r\n\r\n(\/[a-z]+!)/g)].map((m) => m[1])).to.deep.equal(['/slow!', '/fast!', '/last!']);
    const heads = r.text.split(/\r\n\r\n\/[a-z]+!/);
    expect(heads[2]).to.contain('Connection: close');
    expect(r.closed).to.equal(true);
  });

  it('leaves what it cannot write exactly to node: no upstream Date, several chunks, HEAD', async () => {
    const nodate = await exchange(proxy.port, 'GET /nodate HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', () => false);
    expect(nodate.text).to.match(/^HTTP\/1\.1 200 OK\r\n/);
    expect(nodate.text.toLowerCase()).to.contain('\r\ndate: ');
    expect(nodate.text.endsWith('\r\n\r\n/nodate!')).to.equal(true);
    const chunks = await exchange(proxy.port, 'GET /chunks HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', () => false);
    expect(chunks.text.endsWith('\r\n\r\nabcdef')).to.equal(true);
    const head = await exchange(proxy.port, 'HEAD /h HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', () => false);
    expect(head.text.match(/HTTP\/1\.1 201/g)).to.have.length(2);
    expect(head.text).to.contain('content-length: 3\r\n');
    expect(head.text.endsWith('\r\n\r\n/after!')).to.equal(true);
  });

  it('answers with Connection: close while draining', async () => {
    const s = net.connect(proxy.port, '127.0.0.1');
    await new Promise((res) => s.once('connect', res));
    let text = '';
    s.setEncoding('latin1');
    s.on('data', (c: string) => { text += c; });
    const closed = new Promise((res) => s.once('close', res));
    s.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n');
    await new Promise((res) => setTimeout(res, 20));
    await proxy.handler.drain(1000);
    await closed;
    expect(text).to.match(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).to.contain('Connection: close');
    expect(text.endsWith('/slow!')).to.equal(true);
  });
});
