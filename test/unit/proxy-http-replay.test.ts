// Connections the listeners sniffed arrive as a ReplaySocket (a Duplex that yields the sniffed bytes again):
// HTTP/1.1 keep-alive and h2c prior knowledge both work over it.
import { expect } from 'chai';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createHttpHandler } from '../../src/proxy/http/index.ts';
import { withHead } from '../../src/proxy/net/replay-socket.ts';
import { httpProxy, routeConfig, vhost } from '../support/envoy-objects.ts';
import { connContext, FixtureCluster, FixtureClusters, makeRuntime, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { Upstream } from '../support/proxy-http-fixtures.ts';
import { send } from '../support/proxy-http-client.ts';

describe('proxy http: sniffed connections (ReplaySocket)', () => {
  let up: Upstream;
  let clusters: FixtureClusters;
  let server: net.Server;
  let port: number;
  const sockets = new Set<net.Socket>();

  before(async () => {
    up = await startUpstream((req, res) => res.end(`seen ${req.url}`));
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster('up', [up.address]));
    const rc = routeConfig('8080', [vhost('web', ['*'], [{ name: 'all', match: { prefix: '/' }, route: { cluster: 'up' } }])]);
    const runtime = makeRuntime(httpProxy(8080, rc), clusters);
    const handler = createHttpHandler(runtime);
    server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      // Sniff like the listeners: read the first bytes, decide, hand them back with the connection.
      socket.once('data', (head: Buffer) => {
        socket.pause();
        const protocol = head.subarray(0, 3).toString() === 'PRI' ? 'http2' as const : 'http1' as const;
        handler.serve(withHead(socket, head, true), connContext(runtime, protocol, 8080, socket), protocol);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
    await clusters.close();
    await up.close();
  });

  it('serves HTTP/1.1 over a replayed socket', async () => {
    const r = await send(port, '/one');
    expect(r.status).to.equal(200);
    expect(r.body).to.equal('seen /one');
  });

  it('serves several h2c streams over a replayed socket', async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const get = (path: string) => new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': path, ':authority': 'a' });
      let data = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { data += c; });
      req.on('end', () => resolve(data));
      req.on('error', reject);
    });
    const bodies = await Promise.all([get('/a'), get('/b'), get('/c')]);
    session.close();
    expect(bodies).to.deep.equal(['seen /a', 'seen /b', 'seen /c']);
  });
});
