// HTTP/2 and upgrades through the HTTP handler: h2c prior-knowledge downstream, gRPC over h2c with trailers,
// a gRPC fault abort as a trailers-only reply, WebSocket echo through an HTTP/1.1 upgrade, CORS preflights and
// actual requests, and trace context propagated with a new span per hop.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { CORS_POLICY, FAULT, httpProxy, routeConfig, vhost } from '../support/envoy-objects.ts';
import { FixtureCluster, FixtureClusters, makeRuntime, startProxy, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { ProxyFront, Upstream } from '../support/proxy-http-fixtures.ts';
import { send } from '../support/proxy-http-client.ts';

interface H2Reply { headers: http2.IncomingHttpHeaders; body: string; trailers: http2.IncomingHttpHeaders }

function h2request(port: number, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const req = session.request({ ':authority': 'example.com', ...headers }, { endStream: body === undefined });
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    let data = '';
    req.on('response', (h) => { resHeaders = h; });
    req.on('trailers', (t) => { trailers = t; });
    req.setEncoding('utf8');
    req.on('data', (c: string) => { data += c; });
    req.on('end', () => {
      session.close();
      resolve({ headers: resHeaders, body: data, trailers });
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

function grpcFrame(msg: string): Buffer {
  const b = Buffer.from(msg);
  const out = Buffer.alloc(5 + b.length);
  out.writeUInt32BE(b.length, 1);
  b.copy(out, 5);
  return out;
}

describe('proxy http: HTTP/2, gRPC, WebSocket, CORS, tracing', () => {
  let plain: Upstream;
  let grpc: http2.Http2Server;
  let flakyGrpc = 0;
  let ws: http.Server;
  const upgraded: import('node:stream').Duplex[] = [];
  const upgradeHeaders: http.IncomingHttpHeaders[] = [];
  let proxy: ProxyFront;
  let proxy2: ProxyFront;
  let clusters: FixtureClusters;
  let runtime: ReturnType<typeof makeRuntime>;

  before(async () => {
    plain = await startUpstream((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url, headers: req.headers, version: req.httpVersion }));
    });
    grpc = http2.createServer();
    grpc.on('stream', (stream, headers) => {
      if (String(headers[':path']).endsWith('/Hang')) return;
      if (String(headers[':path']).endsWith('/Flaky') && flakyGrpc > 0) {
        flakyGrpc--;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '14' }, { endStream: true });
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const msg = Buffer.concat(chunks).subarray(5).toString();
        stream.respond({
          ':status': 200, 'content-type': 'application/grpc', 'x-path': String(headers[':path']), 'x-authority': String(headers[':authority']), 'x-host': String(headers.host),
        }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'fine' }));
        stream.end(grpcFrame(`echo:${msg}`));
      });
    });
    await new Promise<void>((r) => grpc.listen(0, '127.0.0.1', r));
    ws = http.createServer();
    ws.on('upgrade', (req, socket) => {
      upgraded.push(socket);
      upgradeHeaders.push(req.headers);
      const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      socket.on('data', (frame: Buffer) => {
        // One masked text frame from the client (short payload); echo it unmasked.
        const len = frame[1]! & 0x7f;
        const mask = frame.subarray(2, 6);
        const payload = Buffer.from(frame.subarray(6, 6 + len).map((b, i) => b ^ mask[i % 4]!));
        socket.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload]));
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => ws.listen(0, '127.0.0.1', r));
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster('plain', [plain.address]));
    clusters.add(new FixtureCluster('grpc', [`127.0.0.1:${(grpc.address() as AddressInfo).port}`], { h2c: true }));
    clusters.add(new FixtureCluster('ws', [`127.0.0.1:${(ws.address() as AddressInfo).port}`]));
    const cors = {
      typedPerFilterConfig: {
        'envoy.filters.http.cors': {
          '@type': CORS_POLICY,
          allowOriginStringMatch: [{ exact: 'https://shop.example.com' }],
          allowMethods: 'GET,POST', allowHeaders: 'x-custom', exposeHeaders: 'x-trace', maxAge: '600', allowCredentials: { value: true },
        },
      },
    };
    const grpcFault = { typedPerFilterConfig: { 'envoy.filters.http.fault': { '@type': FAULT, abort: { grpcStatus: 14, percentage: { numerator: 100 } } } } };
    const rc = routeConfig('8080', [vhost('web', ['*'], [
      { name: 'grpc-fault', match: { prefix: '/pkg.Broken/' }, route: { cluster: 'grpc' }, ...grpcFault },
      { name: 'grpc-retry', match: { prefix: '/pkg.Retry/' }, route: { cluster: 'grpc', retryPolicy: { retryOn: 'unavailable', numRetries: { value: 2 } } } },
      { name: 'grpc', match: { prefix: '/pkg.' }, route: { cluster: 'grpc' } },
      { name: 'ws', match: { prefix: '/ws' }, route: { cluster: 'ws' } },
      { name: 'cors', match: { prefix: '/cors' }, route: { cluster: 'plain' }, ...cors },
      { name: 'plain', match: { prefix: '/' }, route: { cluster: 'plain' } },
    ])]);
    const config = httpProxy(8080, rc);
    // The HCM allows WebSocket upgrades, as translation writes it.
    const hcm = ((config.listeners[0]!.filterChains as Array<{ filters: Array<{ typedConfig: Record<string, unknown> }> }>)[0]!.filters[0]!.typedConfig);
    hcm.upgradeConfigs = [{ upgradeType: 'websocket' }];
    runtime = makeRuntime(config, clusters);
    proxy = await startProxy(runtime, 'http1', 8080);
    proxy2 = await startProxy(runtime, 'http2', 8080);
  });

  after(async () => {
    await proxy.close();
    await proxy2.close();
    await clusters.close();
    await plain.close();
    await new Promise((r) => grpc.close(r));
    for (const s of upgraded) s.destroy();
    ws.closeAllConnections();
    await new Promise((r) => ws.close(r));
  });

  it('serves h2c (prior knowledge) downstream and forwards as HTTP/1.1', async () => {
    const r = await h2request(proxy2.port, { ':path': '/hello?x=1', 'x-custom': 'v' });
    expect(r.headers[':status']).to.equal(200);
    const seen = JSON.parse(r.body);
    expect(seen).to.deep.include({ url: '/hello?x=1', version: '1.1' });
    expect(seen.headers).to.include({ host: 'example.com', 'x-custom': 'v', 'x-forwarded-proto': 'http' });
    expect(runtime.telemetry.records.at(-1)!.httpVersion).to.equal('HTTP/2');
  });

  it('carries gRPC over h2c end to end with trailers', async () => {
    const r = await h2request(proxy2.port, { ':method': 'POST', ':path': '/pkg.Svc/Echo', 'content-type': 'application/grpc', te: 'trailers' }, grpcFrame('hi'));
    expect(r.headers[':status']).to.equal(200);
    expect(r.headers['x-path']).to.equal('/pkg.Svc/Echo');
    expect([r.headers['x-authority'], r.headers['x-host']]).to.deep.equal(['example.com', 'undefined']);
    expect(r.body.slice(5)).to.equal('echo:hi');
    expect(r.trailers).to.include({ 'grpc-status': '0', 'grpc-message': 'fine' });
    const rec = runtime.telemetry.records.at(-1)!;
    expect(rec).to.include({ requestProtocol: 'grpc', grpcStatus: '0', status: 200 });
  });

  it('retries a trailers-only gRPC UNAVAILABLE when retry_on names unavailable', async () => {
    flakyGrpc = 1;
    const r = await h2request(proxy2.port, { ':method': 'POST', ':path': '/pkg.Retry/Flaky', 'content-type': 'application/grpc', te: 'trailers' }, grpcFrame('again'));
    expect(r.body.slice(5)).to.equal('echo:again');
    expect(r.trailers['grpc-status']).to.equal('0');
    expect(flakyGrpc).to.equal(0);
    flakyGrpc = 1;
    const plain = await h2request(proxy2.port, { ':method': 'POST', ':path': '/pkg.Svc/Flaky', 'content-type': 'application/grpc', te: 'trailers' }, grpcFrame('once'));
    expect(plain.headers['grpc-status']).to.equal('14');
  });

  it('answers a gRPC fault abort as trailers-only with grpc-status', async () => {
    const r = await h2request(proxy2.port, { ':method': 'POST', ':path': '/pkg.Broken/Call', 'content-type': 'application/grpc', te: 'trailers' }, grpcFrame('x'));
    expect(r.headers[':status']).to.equal(200);
    expect(r.headers['grpc-status']).to.equal('14');
    expect(runtime.telemetry.records.at(-1)!.flags).to.deep.equal(['FI']);
  });

  it('uses grpc-timeout as the timeout of a gRPC request', async () => {
    const t = performance.now();
    const r = await h2request(proxy2.port, { ':method': 'POST', ':path': '/pkg.Svc/Hang', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '100m' }, grpcFrame('x'));
    expect(performance.now() - t).to.be.within(90, 1000);
    expect(r.headers[':status']).to.equal(200);
    expect(r.headers['grpc-status']).to.equal('14');
    expect(runtime.telemetry.records.at(-1)!.flags).to.deep.equal(['UT']);
  });

  it('echoes WebSocket messages through the upgrade', async () => {
    // A client-made x-forwarded-client-cert is dropped (no mTLS peer) as on any forwarded request.
    const init = { headers: { 'x-forwarded-client-cert': 'By=spiffe://forged', 'x-request-id': 'ws-1' } };
    const socket = new WebSocket(`ws://127.0.0.1:${proxy.port}/ws`, init as unknown as string[]);
    const echoed = await new Promise<string>((resolve, reject) => {
      socket.onopen = () => socket.send('ping through the proxy');
      socket.onmessage = (e) => resolve(String(e.data));
      socket.onerror = () => reject(new Error('websocket error'));
    });
    socket.close();
    expect(echoed).to.equal('ping through the proxy');
    const seen = upgradeHeaders.at(-1)!;
    expect(seen).to.include({ upgrade: 'websocket', connection: 'Upgrade', host: `127.0.0.1:${proxy.port}`, 'x-forwarded-proto': 'http', 'x-request-id': 'ws-1' });
    expect(seen.traceparent).to.match(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(seen['x-forwarded-client-cert']).to.equal(undefined);
    // The upgrade is recorded when the spliced connection ends (here: the upstream closes it).
    upgraded.at(-1)!.destroy();
    const upgradeRecord = () => runtime.telemetry.records.find((r) => r.status === 101);
    for (let i = 0; i < 50 && !upgradeRecord(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(upgradeRecord()).to.include({ path: '/ws', upstreamCluster: 'ws' });
  });

  it('answers CORS preflights for allowed origins and decorates actual responses', async () => {
    const hits = plain.hits.length;
    const pre = await send(proxy.port, '/cors', { method: 'OPTIONS', headers: { origin: 'https://shop.example.com', 'access-control-request-method': 'POST' } });
    expect(pre.status).to.equal(200);
    expect(pre.headers).to.include({
      'access-control-allow-origin': 'https://shop.example.com', 'access-control-allow-methods': 'GET,POST',
      'access-control-allow-headers': 'x-custom', 'access-control-max-age': '600', 'access-control-allow-credentials': 'true',
    });
    expect(plain.hits.length).to.equal(hits);
    const actual = await send(proxy.port, '/cors', { headers: { origin: 'https://shop.example.com' } });
    expect(actual.headers).to.include({ 'access-control-allow-origin': 'https://shop.example.com', 'access-control-expose-headers': 'x-trace' });
    const other = await send(proxy.port, '/cors', { headers: { origin: 'https://evil.example' } });
    expect(other.headers['access-control-allow-origin']).to.equal(undefined);
    const otherPre = await send(proxy.port, '/cors', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(otherPre.headers['access-control-allow-origin']).to.equal(undefined);
    expect(plain.hits.length).to.equal(hits + 3);
  });

  it('propagates W3C and B3 trace context with a new span id per hop', async () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const span = '00f067aa0ba902b7';
    const r = await send(proxy.port, '/t', { headers: { traceparent: `00-${trace}-${span}-01`, 'x-b3-traceid': trace, 'x-b3-spanid': span, 'x-b3-sampled': '1' } });
    const h = JSON.parse(r.body).headers as Record<string, string>;
    const [, t, s, f] = h.traceparent!.split('-');
    expect(t).to.equal(trace);
    expect(s).to.match(/^[0-9a-f]{16}$/).and.not.equal(span);
    expect(f).to.equal('01');
    expect(h).to.include({ 'x-b3-traceid': trace, 'x-b3-spanid': s, 'x-b3-parentspanid': span, 'x-b3-sampled': '1' });
    expect(runtime.telemetry.records.at(-1)).to.include({ traceId: trace, spanId: s });
    const fresh = JSON.parse((await send(proxy.port, '/t')).body).headers as Record<string, string>;
    expect(fresh.traceparent).to.match(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(fresh['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
  });
});
