// Listeners end to end on loopback: an explicit listener's TCP proxy to a real echo server (bytes, half-close,
// TcpRecords), connect failure (UF), TLS passthrough routed by SNI to two real TLS backends with the ClientHello
// replayed unchanged, HTTP/1.1 and h2c handed to the real HTTP handler after sniffing, re-planning after a
// config swap, gateway listeners bound and re-bound from the config, and the capture loop guard.
import { expect } from 'chai';
import { connect } from 'node:net';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import { createHttpHandler } from '../../src/proxy/http/index.ts';
import { startListeners } from '../../src/proxy/net/listeners.ts';
import type { RunningListeners, StartListenersOptions } from '../../src/proxy/net/listeners.ts';
import { createCa, issueLeaf } from '../../src/pki/certs.ts';
import type { HttpHandler } from '../../src/proxy/runtime.ts';
import { TLS_INSPECTOR, listener, proxyConfig, routeConfig, tcpProxy, toCluster, vhost, hcm, HTTP_INSPECTOR } from '../support/envoy-objects.ts';
import { namedServer, staticCluster } from '../support/proxy-upstream-fixtures.ts';
import type { NamedServer } from '../support/proxy-upstream-fixtures.ts';
import { echoServer, explicitListener, freePort, netRuntime, noHttp, readAll, tlsBackend } from '../support/proxy-net-fixtures.ts';
import type { Closable, NetRuntime } from '../support/proxy-net-fixtures.ts';

const inspector = (type: string) => ({ name: type.split('.').at(-2), typedConfig: { '@type': type } });
const NONE: StartListenersOptions = { capture: 'none', outboundPort: 15001, inboundPort: 15006, explicit: [], gateway: false };

describe('proxy net: listeners', function () {
  this.timeout(10_000);
  let rt: NetRuntime | undefined;
  let running: RunningListeners | undefined;
  let handler: HttpHandler | undefined;
  let backends: Array<Closable | NamedServer> = [];

  afterEach(async () => {
    await running?.close();
    await rt?.clusters.close();
    await Promise.all(backends.map((b) => b.close()));
    running = undefined;
    rt = undefined;
    handler = undefined;
    backends = [];
  });

  const explicitAt = (dstPort: number, direction: 'outbound' | 'inbound' = 'outbound') => explicitListener(direction, '10.96.0.5', dstPort);
  const boundPort = () => running!.bound()[0]!.port;

  it('proxies TCP from an explicit listener to a real echo server, with half-close and TcpRecords', async () => {
    const echo = await echoServer('echo');
    backends.push(echo);
    rt = netRuntime(proxyConfig({
      listeners: [listener('0.0.0.0_5432', '0.0.0.0', 5432, [{ filters: [tcpProxy('db')] }])],
      clusters: [staticCluster('db', [echo.address])],
    }));
    running = await startListeners(rt, noHttp, explicitAt(5432));
    const c = connect(boundPort(), '127.0.0.1');
    const text = readAll(c);
    c.end('hello');
    expect(await text).to.equal('echo:hello');
    await new Promise((r) => setTimeout(r, 20));
    expect(rt.telemetry.opened).to.have.length(1);
    const rec = rt.telemetry.closed[0]!;
    expect(rec).to.include({ upstreamCluster: 'db', upstreamHost: echo.address, sentBytes: 10, receivedBytes: 5, reporter: 'source' });
    expect(rec.flags).to.deep.equal([]);
  });

  it('closes the downstream and records UF when the upstream refuses the connection', async () => {
    const dead = await freePort();
    rt = netRuntime(proxyConfig({
      listeners: [listener('0.0.0.0_5432', '0.0.0.0', 5432, [{ filters: [tcpProxy('db')] }])],
      clusters: [staticCluster('db', [`127.0.0.1:${dead}`])],
    }));
    running = await startListeners(rt, noHttp, explicitAt(5432));
    const c = connect(boundPort(), '127.0.0.1');
    c.write('x');
    expect(await readAll(c)).to.equal('');
    expect(rt.telemetry.closed[0]!.flags).to.deep.equal(['UF']);
  });

  it('routes TLS by SNI to two real TLS backends, replaying the ClientHello unchanged (passthrough)', async () => {
    const ca = await createCa('passthrough test CA');
    const leafA = await issueLeaf(ca, { commonName: 'a.example', dnsNames: ['a.example'], server: true });
    const leafB = await issueLeaf(ca, { commonName: 'b.example', dnsNames: ['b.example'], server: true });
    const a = await tlsBackend('backend-a', leafA.certPem, leafA.keyPem);
    const b = await tlsBackend('backend-b', leafB.certPem, leafB.keyPem);
    backends.push(a, b);
    const chain = (sni: string, cluster: string) => ({ filterChainMatch: { serverNames: [sni], transportProtocol: 'tls' }, filters: [tcpProxy(cluster)] });
    rt = netRuntime(proxyConfig({
      listeners: [listener('0.0.0.0_443', '0.0.0.0', 443, [chain('a.example', 'a'), chain('b.example', 'b')], { listenerFilters: [inspector(TLS_INSPECTOR)] })],
      clusters: [staticCluster('a', [a.address]), staticCluster('b', [b.address])],
    }));
    running = await startListeners(rt, noHttp, explicitAt(443));
    for (const [sni, want] of [['b.example', 'backend-b sni=b.example'], ['a.example', 'backend-a sni=a.example']] as const) {
      // The certificate verifies against the backend's CA and name: the TLS session is end to end.
      const c = tls.connect({ host: '127.0.0.1', port: boundPort(), servername: sni, ca: ca.certPem });
      expect(await readAll(c)).to.equal(want);
      expect(c.authorized).to.equal(true);
    }
    const unknown = tls.connect({ host: '127.0.0.1', port: boundPort(), servername: 'c.example', ca: ca.certPem });
    expect(await readAll(unknown)).to.equal('');
  });

  it('hands sniffed HTTP/1.1 and h2c to the HTTP handler with the bytes read replayed', async () => {
    const web = await namedServer('reviews-v1');
    backends.push(web);
    const rc = routeConfig('web', [vhost('all', ['*'], [toCluster('reviews')])]);
    rt = netRuntime(proxyConfig({
      listeners: [listener('0.0.0.0_9080', '0.0.0.0', 9080, [{ filters: [hcm('web')] }], { listenerFilters: [inspector(HTTP_INSPECTOR)] })],
      routes: [rc],
      clusters: [staticCluster('reviews', [web.address])],
    }));
    handler = createHttpHandler(rt);
    running = await startListeners(rt, handler, explicitAt(9080));
    const res = await fetch(`http://127.0.0.1:${boundPort()}/reviews/1`);
    expect(res.status).to.equal(200);
    expect(await res.text()).to.equal('reviews-v1');
    // The same keep-alive connection, a request with a body.
    const post = await fetch(`http://127.0.0.1:${boundPort()}/reviews/1`, { method: 'POST', body: 'stars=5' });
    expect(await post.text()).to.equal('reviews-v1');

    const session = http2.connect(`http://127.0.0.1:${boundPort()}`);
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/reviews/2' });
      let t = '';
      req.on('data', (d: Buffer) => { t += d.toString(); });
      req.on('end', () => resolve(t));
      req.on('error', reject);
      req.end();
    });
    session.close();
    expect(body).to.equal('reviews-v1');
    expect(web.requests).to.equal(3);
  });

  it('answers pipelined HTTP/1.1 requests in order when the sniffed bytes hold several of them', async () => {
    const web = await namedServer('web', (req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => res.end(`${req.url}:${body}`));
    });
    backends.push(web);
    const rc = routeConfig('web', [vhost('all', ['*'], [toCluster('web')])]);
    rt = netRuntime(proxyConfig({
      listeners: [listener('0.0.0.0_9080', '0.0.0.0', 9080, [{ filters: [hcm('web')] }], { listenerFilters: [inspector(HTTP_INSPECTOR)] })],
      routes: [rc],
      clusters: [staticCluster('web', [web.address])],
    }));
    handler = createHttpHandler(rt);
    running = await startListeners(rt, handler, explicitAt(9080));
    const s = connect(boundPort(), '127.0.0.1');
    const done = readAll(s);
    // One write: detection reads all three requests at once; a fourth follows once the first answers arrive.
    s.write('GET /one HTTP/1.1\r\nHost: a\r\n\r\nPOST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /three HTTP/1.1\r\nHost: a\r\n\r\n');
    s.once('data', () => s.write('GET /four HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'));
    const text = await done;
    expect([...text.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => Number(m[1]))).to.deep.equal([200, 200, 200, 200]);
    expect([...text.matchAll(/\r\n\r\n(\/[a-z]+:[a-z]*)/g)].map((m) => m[1])).to.deep.equal(['/one:', '/two:abc', '/three:', '/four:']);
  });

  it('plans again when the live config changes (the next connection follows the new config)', async () => {
    const one = await echoServer('one');
    const two = await echoServer('two');
    backends.push(one, two);
    const config = (cluster: string) => proxyConfig({
      listeners: [listener('0.0.0.0_7000', '0.0.0.0', 7000, [{ filters: [tcpProxy(cluster)] }])],
      clusters: [staticCluster('one', [one.address]), staticCluster('two', [two.address])],
    });
    rt = netRuntime(config('one'));
    running = await startListeners(rt, noHttp, explicitAt(7000));
    const first = connect(boundPort(), '127.0.0.1');
    const firstText = readAll(first);
    first.write('a');
    await new Promise((r) => setTimeout(r, 20));
    rt.setConfig(config('two'));
    const second = connect(boundPort(), '127.0.0.1');
    const secondText = readAll(second);
    second.end('b');
    first.end('c');
    expect(await firstText).to.equal('one:ac');
    expect(await secondText).to.equal('two:b');
  });

  it('binds gateway listeners at the config\'s addresses and re-binds when the set changes', async () => {
    const echo = await echoServer('gw');
    backends.push(echo);
    const [p1, p2] = [await freePort(), await freePort()];
    const config = (ports: number[]) => proxyConfig({
      listeners: ports.map((p) => listener(`gw_${p}`, '127.0.0.1', p, [{ filters: [tcpProxy('echo')] }])),
      clusters: [staticCluster('echo', [echo.address])],
    });
    rt = netRuntime(config([p1]));
    running = await startListeners(rt, noHttp, { ...NONE, gateway: true });
    expect(running.bound().map((b) => b.port)).to.deep.equal([p1]);
    rt.setConfig(config([p2]));
    await new Promise((r) => setTimeout(r, 30));
    expect(running.bound().map((b) => b.port)).to.deep.equal([p2]);
    const c = connect(p2, '127.0.0.1');
    const text = readAll(c);
    c.end('x');
    expect(await text).to.equal('gw:x');
    const gone = connect(p1, '127.0.0.1');
    const refused = await new Promise<string>((r) => { gone.on('error', (e: NodeJS.ErrnoException) => r(e.code ?? '')); gone.on('connect', () => r('connected')); });
    expect(refused).to.equal('ECONNREFUSED');
  });

  it('refuses a capture-port connection whose destination is the proxy itself (no loop)', async () => {
    const echo = await echoServer('loop');
    backends.push(echo);
    const [out, inb] = [await freePort(), await freePort()];
    rt = netRuntime(proxyConfig({
      listeners: [listener('virtualOutbound', '0.0.0.0', 15001, [{ filters: [tcpProxy('echo')] }])],
      clusters: [staticCluster('echo', [echo.address])],
    }));
    running = await startListeners(rt, noHttp, { ...NONE, capture: 'iptables', outboundPort: out, inboundPort: inb, captureHost: '127.0.0.1' });
    const c = connect(out, '127.0.0.1');
    c.write('x');
    expect(await readAll(c)).to.equal('');
    expect(echo.connections).to.equal(0);
  });
});
