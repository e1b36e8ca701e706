// Protocol detection with real clients: node:tls ClientHello (SNI, ALPN, also re-framed across several TLS
// records and TCP writes), node:http2's preface, HTTP/1.1 and 1.0 request lines, opaque bytes, and a silent
// (server-first) client that becomes TCP after the detection timeout. The bytes read are all handed back.
import { expect } from 'chai';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import { classify, sniff } from '../../src/proxy/net/sniff.ts';
import type { Sniffed, SniffOptions } from '../../src/proxy/net/sniff.ts';

const ALL: SniffOptions = { tls: true, http: true, timeoutMs: 2000 };

describe('proxy net: protocol sniffing', () => {
  let server: Server;
  let port: number;
  let options: SniffOptions = ALL;
  let results: Array<(s: Sniffed) => void> = [];
  const sockets: Socket[] = [];

  before(async () => {
    server = createServer({ allowHalfOpen: true }, (socket) => {
      sockets.push(socket);
      void sniff(socket, options).then((r) => {
        results.shift()?.(r);
        socket.destroy();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  afterEach(() => {
    options = ALL;
    results = [];
  });

  const next = () => new Promise<Sniffed>((r) => results.push(r));

  it('reads SNI and the ALPN list from a node:tls ClientHello', async () => {
    const got = next();
    const c = tls.connect({ host: '127.0.0.1', port, servername: 'reviews.bookinfo.example', ALPNProtocols: ['h2', 'http/1.1'] });
    c.on('error', () => {});
    const r = await got;
    c.destroy();
    expect(r).to.include({ protocol: 'tls', sni: 'reviews.bookinfo.example' });
    expect((r as { alpn: string[] }).alpn).to.deep.equal(['h2', 'http/1.1']);
    expect(r.head[0]).to.equal(0x16);
  });

  it('reassembles a ClientHello re-framed into three TLS records sent in separate writes', async () => {
    // Capture a real ClientHello, then split its handshake message over 3 TLS records and 3 TCP writes.
    const hello = await captureClientHello(port, (r) => results.push(r));
    const body = hello.subarray(5);
    const cuts = [0, 40, 41, body.length];
    const records = cuts.slice(1).map((end, i) => {
      const part = body.subarray(cuts[i], end);
      return Buffer.concat([Buffer.from([0x16, 0x03, 0x01, part.length >> 8, part.length & 0xff]), part]);
    });
    expect(classify(Buffer.concat(records).subarray(0, 30), ALL)).to.equal(undefined);
    const got = next();
    const c = connect(port, '127.0.0.1');
    c.setNoDelay(true);
    c.on('error', () => {});
    for (const rec of records) {
      c.write(rec);
      await new Promise((r) => setTimeout(r, 5));
    }
    const r = await got;
    c.destroy();
    expect(r).to.include({ protocol: 'tls', sni: 'split.example' });
    expect(r.head.length).to.equal(records.reduce((n, b) => n + b.length, 0));
  });

  it('calls handshake records that hold no well-formed ClientHello TCP, and waits on a partial one', () => {
    const record = (body: number[]) => Buffer.from([0x16, 0x03, 0x01, body.length >> 8, body.length & 0xff, ...body]);
    // A ServerHello (type 2) where a ClientHello should be.
    expect(classify(record([0x02, 0x00, 0x00, 0x02, 0x03, 0x03]), ALL)).to.deep.equal({ protocol: 'tcp', why: 'not-detected' });
    // A ClientHello whose session id length runs past its end.
    expect(classify(record([0x01, 0x00, 0x00, 0x23, 0x03, 0x03, ...new Array<number>(32).fill(0), 0xff]), ALL)).to.deep.equal({ protocol: 'tcp', why: 'not-detected' });
    // The first three bytes of a record header: not decided yet.
    expect(classify(Buffer.from([0x16, 0x03, 0x01]), ALL)).to.equal(undefined);
    // Half the HTTP/2 preface, and a request line without its end: not decided yet.
    expect(classify(Buffer.from('PRI * HTTP/2'), ALL)).to.equal(undefined);
    expect(classify(Buffer.from('GET /very/long'), ALL)).to.equal(undefined);
    expect(classify(Buffer.from('GET / HTTP/3.0\r\n'), ALL)).to.deep.equal({ protocol: 'tcp', why: 'not-detected' });
  });

  it('recognises the HTTP/2 preface from node:http2 (prior knowledge)', async () => {
    const got = next();
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const r = await got;
    session.destroy();
    expect(r.protocol).to.equal('http2');
    expect(r.head.subarray(0, 24).toString('latin1')).to.equal('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  });

  it('recognises HTTP/1.1 from node:http and HTTP/1.0 from a raw request line', async () => {
    let got = next();
    const req = http.request({ host: '127.0.0.1', port, path: '/productpage', method: 'POST' });
    req.on('error', () => {});
    req.end('x');
    let r = await got;
    expect(r.protocol).to.equal('http1');
    expect(r.head.toString('latin1')).to.match(/^POST \/productpage HTTP\/1\.1\r\n/);

    got = next();
    const c = connect(port, '127.0.0.1', () => c.write('GET / HTTP/1.0\r\n\r\n'));
    c.on('error', () => {});
    r = await got;
    c.destroy();
    expect(r.protocol).to.equal('http1.0');
  });

  it('calls opaque bytes TCP at once, and a silent server-first client TCP after the timeout', async () => {
    let got = next();
    const c = connect(port, '127.0.0.1', () => c.write(Buffer.from([0x00, 0x00, 0x00, 0x2c, 0x0a])));
    c.on('error', () => {});
    let r = await got;
    c.destroy();
    expect(r).to.include({ protocol: 'tcp', why: 'not-detected' });
    expect(r.head.length).to.equal(5);

    options = { ...ALL, timeoutMs: 30 };
    got = next();
    const started = Date.now();
    const silent = connect(port, '127.0.0.1');
    silent.on('error', () => {});
    r = await got;
    silent.destroy();
    expect(r).to.include({ protocol: 'tcp', why: 'timeout' });
    expect(r.head.length).to.equal(0);
    expect(Date.now() - started).to.be.within(25, 1000);
  });

  it('reads nothing when the listener needs no detection, and only what the enabled inspector needs', async () => {
    options = { tls: false, http: false };
    let got = next();
    const c = connect(port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\n\r\n'));
    c.on('error', () => {});
    let r = await got;
    c.destroy();
    expect(r).to.include({ protocol: 'tcp', why: 'skipped' });
    expect(r.head.length).to.equal(0);

    // TLS inspector only: HTTP is not looked for.
    options = { tls: true, http: false, timeoutMs: 2000 };
    got = next();
    const c2 = connect(port, '127.0.0.1', () => c2.write('GET / HTTP/1.1\r\n\r\n'));
    c2.on('error', () => {});
    r = await got;
    c2.destroy();
    expect(r).to.include({ protocol: 'tcp', why: 'not-detected' });
  });
});

/** The ClientHello a node:tls client sends for SNI split.example, as seen on the wire. */
async function captureClientHello(port: number, register: (resolve: (r: Sniffed) => void) => void): Promise<Buffer> {
  const got = new Promise<Sniffed>((resolve) => register(resolve));
  const c = tls.connect({ host: '127.0.0.1', port, servername: 'split.example', ALPNProtocols: ['http/1.1'] });
  c.on('error', () => {});
  const r = await got;
  c.destroy();
  return r.head;
}
