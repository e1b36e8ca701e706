// A client sidecar and a server sidecar in one process, configs from translate(), identities from a real CA:
// HTTP through the pair over a port of UNKNOWN protocol (the server picks its HTTP chain by the ALPN the client
// announces), STRICT and PERMISSIVE peer authentication, certificate rotation and a config swap under load.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import * as tls from 'node:tls';
import { packProxyConfig } from '../../src/controllers/proxy-bundle.ts';
import { createRootCa } from '../../src/pki/ca.ts';
import { eventually } from '../support/kubelet-volume.ts';
import { identityFiles } from '../support/proxy-bundles.ts';
import {
  CLIENT_ID, SERVER_ID, SERVER_POD_IP, clientListener, identity, pairConfigs, runSidecar, serverListener,
} from '../support/proxy-pair.ts';
import type { PairMesh, RunningSidecar } from '../support/proxy-pair.ts';
import { offeredAlpn } from '../../src/proxy/upstream/pools.ts';
import { request, runLoad, startApp } from '../support/proxy-pair-load.ts';
import type { App } from '../support/proxy-pair-load.ts';

interface Pair {
  apps: [App, App];
  client: RunningSidecar;
  server: RunningSidecar;
}

describe('proxy mTLS pair: client sidecar → server sidecar (translated configs)', function () {
  this.timeout(20_000);
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function pair(mode: PairMesh['mode'], more: Partial<PairMesh> = {}): Promise<Pair> {
    const a = await startApp('app-a');
    const b = await startApp('app-b');
    cleanup.push(() => a.close(), () => b.close());
    const cfg = pairConfigs({ mode, appPorts: [a.port, b.port], ...more });
    const server = await runSidecar(cfg.server, await identity('web'), [serverListener(a.port), serverListener(b.port)]);
    cleanup.push(() => server.stop());
    const client = await runSidecar(cfg.client, await identity('client'), [clientListener()]);
    cleanup.push(() => client.stop());
    return { apps: [a, b], client, server };
  }

  it('STRICT: a sidecar client gets through over mTLS, with both principals in the metrics', async () => {
    const p = await pair('STRICT');
    const r = await request(p.client.port, '/hello');
    expect(r).to.include({ status: 200, body: 'app-a /hello' });
    // The server terminated mTLS and served HTTP (its HTTP chain, chosen by the announced ALPN).
    expect(p.apps[0].seen.at(-1)?.xfcc).to.equal(`By=${SERVER_ID};URI=${CLIENT_ID}`);
    const serverMetrics = p.server.metrics();
    const inbound = serverMetrics.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="destination"'));
    expect(inbound, serverMetrics).to.be.a('string');
    expect(inbound).to.include(`source_principal="${CLIENT_ID}"`).and.include('connection_security_policy="mutual_tls"')
      .and.include('response_code="200"');
    const outbound = p.client.metrics().split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('reporter="source"'));
    expect(outbound).to.include(`destination_principal="${SERVER_ID}"`).and.include('response_code="200"');
  });

  it('HTTP/2 through the pair: the client announces istio-h2 and the server serves HTTP/2 over mTLS', async () => {
    // The port is declared HTTP, so the rule upgrades the hop between the sidecars to HTTP/2 while the server's
    // inbound cluster speaks HTTP/1.1 to the app, as the port says; the client app asks with HTTP/2.
    const p = await pair('STRICT', { webPortName: 'http', webPolicy: { connectionPool: { http: { h2UpgradePolicy: 'UPGRADE' } } } });
    const session = http2.connect(`http://127.0.0.1:${p.client.port}`);
    cleanup.push(() => session.close());
    const ask = (path: string) => new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': path, ':authority': 'web:8080' });
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (text += c));
      req.on('end', () => resolve(text));
      req.on('error', reject);
    });
    expect(await Promise.all([ask('/two'), ask('/three')])).to.deep.equal(['app-a /two', 'app-a /three']);
    expect(p.apps[0].seen.at(-1)?.xfcc).to.equal(`By=${SERVER_ID};URI=${CLIENT_ID}`);
    // The server's access log: the hop between the sidecars was HTTP/2.
    await eventually(() => p.server.accessLog.some((l) => l.includes('"/two"')), 2000, 'the server\'s access log');
    const inbound = p.server.accessLog.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r.path === '/two');
    expect(inbound).to.include({ protocol: 'HTTP/2', response_code: 200, reporter: 'destination' });
  });

  it('raw TCP through the pair: the client offers `istio`, the server\'s TCP chain terminates mTLS and proxies the bytes', async () => {
    // A server-first-free line protocol that no inspector takes for HTTP: the app echoes in upper case.
    const echo = net.createServer((s) => s.on('data', (d: Buffer) => s.write(d.toString().toUpperCase())));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => echo.close(r)));
    const b = await startApp('app-b');
    cleanup.push(() => b.close());
    const echoPort = (echo.address() as net.AddressInfo).port;
    const cfg = pairConfigs({ mode: 'STRICT', appPorts: [echoPort, b.port] });
    const server = await runSidecar(cfg.server, await identity('web'), [serverListener(echoPort)]);
    cleanup.push(() => server.stop());
    const client = await runSidecar(cfg.client, await identity('client'), [clientListener()]);
    cleanup.push(() => client.stop());
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(client.port, '127.0.0.1', () => s.write('\x01\x02 hello mesh\n'));
      s.on('data', (d: Buffer) => {
        resolve(d.toString());
        s.end();
      });
      s.on('error', reject);
    });
    expect(answer).to.equal('\x01\x02 HELLO MESH\n');
    await eventually(() => server.metrics().includes('istio_tcp_connections_opened_total{'), 2000, 'server TCP metrics');
    const opened = server.metrics().split('\n').find((l) => l.startsWith('istio_tcp_connections_opened_total{'));
    expect(opened).to.include(`source_principal="${CLIENT_ID}"`).and.include('connection_security_policy="mutual_tls"');
  });

  it('STRICT: a plaintext client and a client with a foreign CA\'s certificate are refused', async () => {
    const p = await pair('STRICT');
    const port = p.apps[0].port;
    const plain = await request(port, '/', { host: SERVER_POD_IP }).then(() => 'answered', (e: Error) => `refused: ${e.message}`);
    expect(plain).to.match(/^refused/);
    const foreign = await identity('client', await createRootCa());
    const root = (await identity('web')).rootCertPem;
    const outcome = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: SERVER_POD_IP, port, cert: foreign.certChainPem, key: foreign.keyPem, ca: root,
        ALPNProtocols: ['istio-http/1.1'], checkServerIdentity: () => undefined }, () => {
        s.write('GET / HTTP/1.1\r\nhost: web\r\n\r\n');
      });
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('error', (e) => resolve(`refused: ${e.message}`));
      s.on('close', () => resolve(got ? `answered: ${got.slice(0, 40)}` : 'refused: closed'));
    });
    expect(outcome).to.match(/^refused/);
    expect(p.apps[0].seen).to.have.length(0);
    // The client sidecar itself still gets through.
    expect((await request(p.client.port, '/')).status).to.equal(200);
  });

  it('PERMISSIVE: mTLS from the sidecar and plaintext from outside the mesh are both accepted', async () => {
    const p = await pair('PERMISSIVE');
    expect(await request(p.client.port, '/m')).to.include({ status: 200, body: 'app-a /m' });
    expect(p.apps[0].seen.at(-1)?.xfcc).to.equal(`By=${SERVER_ID};URI=${CLIENT_ID}`);
    const plain = await request(p.apps[0].port, '/p', { host: SERVER_POD_IP });
    expect(plain).to.include({ status: 200, body: 'app-a /p' });
    expect(p.apps[0].seen.at(-1)?.xfcc).to.equal(undefined);
    const lines = p.server.metrics().split('\n').filter((l) => l.startsWith('istio_requests_total{'));
    expect(lines.some((l) => l.includes('connection_security_policy="mutual_tls"'))).to.equal(true);
    expect(lines.some((l) => l.includes('connection_security_policy="none"'))).to.equal(true);
  });

  it('rotates both identities under load without a failed request; new connections present the new certificates', async () => {
    const p = await pair('STRICT');
    const ca2 = await createRootCa();
    const nextServer = await identity('web', ca2);
    const nextClient = await identity('client', ca2);
    const bundle = `${(await identity('web')).rootCertPem.trim()}\n${nextServer.rootCertPem.trim()}\n`;
    const load = runLoad(p.client.port, { total: 2000, concurrency: 4, newConnectionEvery: 5, at: {
      500: () => {
        p.server.identity.write({ ...identityFiles(nextServer), 'root-cert.pem': bundle });
        p.client.identity.write({ ...identityFiles(nextClient), 'root-cert.pem': bundle });
      },
    } });
    const result = await load;
    expect(result.failures, result.errors.slice(0, 3).join('; ')).to.equal(0);
    expect(result.ok).to.equal(2000);
    await eventually(() => p.server.sidecar.live.identity()?.certChain === nextServer.certChainPem
      && p.client.sidecar.live.identity()?.certChain === nextClient.certChainPem, 3000, 'both identities rotated');
    // The old root goes: only the new certificates verify from now on, on both sides.
    p.server.identity.write({ ...identityFiles(nextServer) });
    p.client.identity.write({ ...identityFiles(nextClient) });
    await eventually(() => p.server.sidecar.live.identity()?.rootCerts === nextServer.rootCertPem
      && p.client.sidecar.live.identity()?.rootCerts === nextClient.rootCertPem, 3000, 'old root removed');
    // The server presents the new certificate to a new connection (trusting only the new root).
    const serial = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: SERVER_POD_IP, port: p.apps[0].port, cert: nextClient.certChainPem, key: nextClient.keyPem,
        ca: nextServer.rootCertPem, ALPNProtocols: ['istio-http/1.1'], checkServerIdentity: () => undefined }, () => {
        resolve(s.getPeerCertificate().serialNumber);
        s.destroy();
      });
      s.on('error', reject);
    });
    expect(serial).to.equal(new X509Certificate(nextServer.certChainPem).serialNumber);
    // The client's new connections present its new certificate: more concurrent slow requests than the pool has
    // connections make it open new ones, which the server (trusting only the new root) accepts.
    const slow = await Promise.all(Array.from({ length: 12 }, (_, i) => request(p.client.port, `/slow?${i}`)));
    expect(slow.map((r) => r.status)).to.deep.equal(Array(12).fill(200));
    expect(p.apps[0].peakConcurrency).to.be.greaterThan(4);
  });

  it('a config swap under load moves traffic from one app to the other without a failed request', async () => {
    const route = (a: number, b: number): PairMesh['webRoute'] => ({
      hosts: ['web'], http: [{ route: [{ destination: { host: 'web' }, weight: a }, { destination: { host: 'web2' }, weight: b }] }],
    });
    const p = await pair('STRICT', { webRoute: route(100, 0) });
    const next = pairConfigs({ mode: 'STRICT', appPorts: [p.apps[0].port, p.apps[1].port], webRoute: route(0, 100) }).client;
    const result = await runLoad(p.client.port, { total: 2000, concurrency: 4, newConnectionEvery: 5, at: {
      300: () => p.client.config.write({ 'config.pb.gz': packProxyConfig(next).gzipped }),
    } });
    expect(result.failures, result.errors.slice(0, 3).join('; ')).to.equal(0);
    expect(result.bodies.get('app-a') ?? 0).to.be.greaterThan(0);
    expect(result.bodies.get('app-b') ?? 0).to.be.greaterThan(0);
    // After the swap everything goes to the second app.
    const tail = await runLoad(p.client.port, { total: 50, concurrency: 2, newConnectionEvery: 5 });
    expect(tail.failures).to.equal(0);
    expect([...tail.bodies.keys()]).to.deep.equal(['app-b']);
    expect(p.apps[1].seen.at(-1)?.xfcc).to.equal(`By=${SERVER_ID};URI=${CLIENT_ID}`);
  });
});

describe('proxy upstream: ALPN a connection offers', () => {
  it('announces the HTTP version inside in-mesh mTLS, keeps `istio` as the fallback and the config\'s list for raw TCP', () => {
    expect(offeredAlpn(['istio'], 'http1')).to.deep.equal(['istio-http/1.1', 'istio', 'http/1.1']);
    expect(offeredAlpn(['istio', 'h2'], 'http2')).to.deep.equal(['istio-h2', 'h2', 'istio']);
    // A use_downstream cluster whose config says h2 but the pool speaks HTTP/1.1 must not offer h2.
    expect(offeredAlpn(['istio', 'h2'], 'http1')).to.deep.equal(['istio-http/1.1', 'istio', 'http/1.1']);
    expect(offeredAlpn(['h2'], 'http1')).to.deep.equal(['http/1.1']);
    expect(offeredAlpn([], 'http2')).to.deep.equal(['h2']);
    expect(offeredAlpn(['istio'], 'tcp')).to.deep.equal(['istio']);
  });
});
