// The proxy in gateway mode on the listener shapes of HTTP and file-based HTTPS servers: an HTTP listener with
// no inspectors (the connection manager parses the stream), `require_tls: ALL` answering 301 to
// https://<host><path> whatever x-forwarded-proto the client sends (the edge does not trust it), other hosts
// routed; simulate() agreeing; certificate files read when the config loads and again when it reloads, a
// MUTUAL server refusing clients without a certificate; and a listener that cannot bind named with its port.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packProxyConfig } from '../../src/controllers/proxy-bundle.ts';
import { silentLogger } from '../../src/controllers/log.ts';
import type { Logger } from '../../src/controllers/log.ts';
import { bindFailure } from '../../src/proxy/net/listeners.ts';
import { simulate } from '../../src/proxy/routing/simulate.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { listener, proxyConfig, routeConfig, toCluster, vhost } from '../support/envoy-objects.ts';
import { KubeletVolume } from '../support/kubelet-volume.ts';
import { fileTls, gatewayHcm, hostCert, httpsChain, httpsGet, nameApp, startGateway, tlsInspector, webCa } from '../support/proxy-gateway-fixtures.ts';
import { freePort } from '../support/proxy-net-fixtures.ts';
import { staticCluster } from '../support/proxy-upstream-fixtures.ts';

function get(port: number, host: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host, ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(res.headers.location ? { location: res.headers.location } : {}), body }));
    });
    req.on('error', reject);
  });
}

/** A logger that keeps its warnings and errors. */
function keeping(lines: string[]): Logger {
  const l = Object.create(silentLogger) as Logger;
  const rec = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  Object.assign(l, { warn: rec('warn'), error: rec('error'), child: () => l });
  return l;
}

describe('proxy gateway: HTTP servers, redirects and certificate files', function () {
  this.timeout(15_000);
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function run(config: (apps: string) => ProxyConfig, log: Logger = silentLogger) {
    const app = await nameApp('app');
    cleanup.push(() => app.close());
    const vol = new KubeletVolume();
    cleanup.push(() => vol.remove());
    const write = (pc: ProxyConfig) => vol.write({ 'config.pb.gz': packProxyConfig(pc).gzipped });
    write(config(app.address));
    const sidecar = await startGateway({ configDir: vol.dir, log, cleanup });
    return { sidecar, write: (f: (apps: string) => ProxyConfig) => write(f(app.address)) };
  }

  /** An HTTP server (Istio's shape: no listener filters) whose bookinfo host has httpsRedirect. */
  const httpGateway = (port: number) => (app: string) => proxyConfig({
    listeners: [listener(`0.0.0.0_${port}`, '127.0.0.1', port, [{ filters: [gatewayHcm(`http.${port}`)] }])],
    routes: [routeConfig(`http.${port}`, [
      vhost('bookinfo.example.com:80', ['bookinfo.example.com', 'bookinfo.example.com:*'], [toCluster('app')], { requireTls: 'ALL' }),
      vhost('plain.example.com:80', ['plain.example.com', 'plain.example.com:*'], [toCluster('app')]),
    ])],
    clusters: [staticCluster('app', [app])],
  });

  it('require_tls ALL: 301 to https://<host><path>, even when the client claims https; other hosts are routed', async () => {
    const port = await freePort();
    await run(httpGateway(port));
    expect(await get(port, 'bookinfo.example.com', '/productpage?u=1')).to.deep.equal({
      status: 301, location: 'https://bookinfo.example.com/productpage?u=1', body: '',
    });
    expect((await get(port, 'bookinfo.example.com', '/x', { 'x-forwarded-proto': 'https' })).status).to.equal(301);
    expect(await get(port, 'plain.example.com', '/a')).to.deep.equal({ status: 200, body: 'app /a' });
    // simulate() runs the same engine.
    const sim = simulate(httpGateway(port)('127.0.0.1:1'), {
      direction: 'outbound', destinationIp: '127.0.0.1', port, host: 'bookinfo.example.com', path: '/p', headers: { 'x-forwarded-proto': 'https' },
    });
    expect(sim.action).to.deep.equal({ kind: 'redirect', location: 'https://bookinfo.example.com/p', status: 301 });
  });

  it('reads certificate files when the config loads and again when it reloads; MUTUAL with a CA file needs a client certificate', async () => {
    const ca = (await webCa()).certPem;
    const [first, second] = [await hostCert(['files.example.com']), await hostCert(['files.example.com'])];
    const client = await hostCert(['client.example.com'], undefined, true);
    const dir = mkdtempSync(join(tmpdir(), 'weft-gateway-certs-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const files = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), ca: join(dir, 'ca.crt') };
    writeFileSync(files.cert, first.cert);
    writeFileSync(files.key, first.key);
    writeFileSync(files.ca, ca);
    const port = await freePort();
    const config = (prefix: string) => (app: string) => proxyConfig({
      listeners: [listener(`0.0.0.0_${port}`, '127.0.0.1', port, [
        httpsChain('files', ['files.example.com'], fileTls(files.cert, files.key), 'https.443.https.files.gw.ns'),
        httpsChain('mutual', ['mutual.example.com'], fileTls(files.cert, files.key, files.ca), 'https.443.https.mutual.gw.ns'),
      ], { listenerFilters: [tlsInspector] })],
      routes: [
        routeConfig('https.443.https.files.gw.ns', [vhost('files', ['*'], [toCluster('app', { prefix })])]),
        routeConfig('https.443.https.mutual.gw.ns', [vhost('mutual', ['*'], [toCluster('app')])]),
      ],
      clusters: [staticCluster('app', [app])],
    });
    const { write } = await run(config('/'));
    expect(await httpsGet(port, { sni: 'files.example.com', host: 'files.example.com', path: '/f', ca })).to.deep.equal({ body: 'app /f', serial: first.serial });
    writeFileSync(files.cert, second.cert);
    writeFileSync(files.key, second.key);
    // Same config: the files were read at load.
    expect((await httpsGet(port, { sni: 'files.example.com', host: 'files.example.com', ca })).serial).to.equal(first.serial);
    write(config('/v2'));
    let reply = await httpsGet(port, { sni: 'files.example.com', host: 'files.example.com', path: '/v2', ca });
    const end = Date.now() + 3000;
    while (reply.serial !== second.serial && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
      reply = await httpsGet(port, { sni: 'files.example.com', host: 'files.example.com', path: '/v2', ca });
    }
    expect(reply).to.deep.equal({ body: 'app /v2', serial: second.serial });
    expect((await httpsGet(port, { sni: 'mutual.example.com', host: 'files.example.com', ca, client })).body).to.equal('app /');
    expect((await httpsGet(port, { sni: 'mutual.example.com', host: 'files.example.com', ca })).body).to.equal(undefined);
  });

  it('names the port when a gateway listener cannot bind, and the sysctl for ports below 1024', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => busy.close(r)));
    const port = (busy.address() as net.AddressInfo).port;
    const lines: string[] = [];
    const free = await freePort();
    await run((app) => ({ ...httpGateway(free)(app), listeners: [...httpGateway(free)(app).listeners, listener(`0.0.0.0_${port}`, '127.0.0.1', port, [{ filters: [gatewayHcm(`http.${free}`)] }])] }), keeping(lines));
    expect(lines.some((l) => l.startsWith('error') && l.includes(`port ${port} is already in use`))).to.equal(true, lines.join('\n'));
    // The other listener serves.
    expect((await get(free, 'plain.example.com', '/')).status).to.equal(200);
    const denied = Object.assign(new Error('listen EACCES: permission denied 0.0.0.0:443'), { code: 'EACCES' });
    const message = bindFailure(denied, '0.0.0.0', 443);
    expect(message).to.include('0.0.0.0:443').and.include('net.ipv4.ip_unprivileged_port_start=0');
  });
});
