// The proxy in gateway mode with its real parts, a config volume and a credentials volume laid out like the
// kubelet's: filter chains chosen by SNI (exact over `*.suffix`, then the chain without server names), HTTPS
// terminated with the certificate of `kubernetes://<credential>` then routed by the chain's own route
// configuration, a credential that is missing or bad failing only its chain's handshakes (and being logged), a
// rotated credential served to new handshakes while a keep-alive connection opened before goes on, MUTUAL
// requiring a client certificate from the credential's CA (and its SANs when given), HTTP/2 by ALPN, and
// PASSTHROUGH forwarding the TLS stream untouched.
import { expect } from 'chai';
import http2 from 'node:http2';
import https from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { packProxyConfig } from '../../src/controllers/proxy-bundle.ts';
import { createLogger } from '../../src/controllers/log.ts';
import type { Logger } from '../../src/controllers/log.ts';
import { createCa } from '../../src/pki/certs.ts';
import type { Sidecar } from '../../src/proxy/sidecar.ts';
import { listener, proxyConfig, routeConfig, tcpProxy, toCluster, vhost } from '../support/envoy-objects.ts';
import { KubeletVolume } from '../support/kubelet-volume.ts';
import {
  credentialFiles, hostCert, httpsChain, httpsGet, nameApp, rsaSelfSigned, sdsMutualWithSans, sdsTls, startGateway, tlsInspector, webCa,
} from '../support/proxy-gateway-fixtures.ts';
import type { HostCert } from '../support/proxy-gateway-fixtures.ts';
import { freePort, tlsBackend } from '../support/proxy-net-fixtures.ts';
import { staticCluster } from '../support/proxy-upstream-fixtures.ts';

type O = Record<string, unknown>;

/** A logger that keeps what it was told (and prints it with DEBUG_GATEWAY). */
function recordingLogger(lines: string[]): Logger {
  const base = createLogger('t', { level: 'debug' });
  const make = (): Logger => {
    const l = Object.create(base) as Logger;
    for (const level of ['debug', 'info', 'warn', 'error'] as const) {
      (l as unknown as Record<string, unknown>)[level] = (msg: string, fields?: Record<string, unknown>) => {
        lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
        if (process.env.DEBUG_GATEWAY) console.log(level, msg, fields);
      };
    }
    (l as unknown as Record<string, unknown>).child = () => make();
    return l;
  };
  return make();
}

/** Istio's credentialNames (an ECDSA and an RSA Secret) with cipherSuites. */
const dualTls = (): O => ({
  name: 'envoy.transport_sockets.tls',
  typedConfig: {
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
    commonTlsContext: {
      tlsCertificateSdsSecretConfigs: [{ name: 'kubernetes://dual-ec' }, { name: 'kubernetes://dual-rsa' }],
      tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_2', cipherSuites: ['[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]', 'ECDHE-RSA-AES128-GCM-SHA256'] },
      alpnProtocols: ['http/1.1'],
    },
  },
});

describe('proxy gateway: HTTPS servers, credentials and SNI', function () {
  this.timeout(15_000);
  const cleanup: Array<() => unknown> = [];
  let bookinfo: HostCert;
  let wildcard: HostCert;
  let mtls: HostCert;
  let fallback: HostCert;
  let passthroughCert: HostCert;
  let dualEc: HostCert;
  let dualRsa: HostCert;
  let ca: string;

  before(async () => {
    ca = (await webCa()).certPem;
    [bookinfo, wildcard, mtls, fallback, passthroughCert] = await Promise.all([
      hostCert(['bookinfo.example.com']), hostCert(['*.example.com']), hostCert(['mtls.example.com']),
      hostCert(['default.example.org']), hostCert(['db.example.com']),
    ]);
    [dualEc, dualRsa] = [await hostCert(['dual.example.com']), await rsaSelfSigned(['dual.example.com'])];
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  /** The gateway's config: one HTTPS listener with SNI chains, each routed to its own app. */
  async function gatewayConfig(port: number, apps: Record<string, string>, passthrough?: string): Promise<ReturnType<typeof proxyConfig>> {
    const chain = (name: string, names: string[], socket: O) => httpsChain(name, names, socket, `https.443.${name}.gw.istio-system`);
    const route = (name: string) => routeConfig(`https.443.${name}.gw.istio-system`, [vhost(name, ['*'], [toCluster(name)])]);
    const names = ['bookinfo', 'wild', 'mtls', 'sans', 'dual', 'fallback'];
    return proxyConfig({
      listeners: [listener(`0.0.0.0_${port}`, '127.0.0.1', port, [
        chain('bookinfo', ['bookinfo.example.com'], sdsTls('bookinfo-cred')),
        chain('wild', ['*.example.com'], sdsTls('wild-cred')),
        chain('mtls', ['mtls.example.com'], sdsTls('mtls-cred', true)),
        chain('sans', ['sans.example.com'], sdsMutualWithSans('sans-cred', ['client.example.com'])),
        chain('dual', ['dual.example.com'], dualTls()),
        ...(passthrough ? [{ name: 'db', filterChainMatch: { serverNames: ['db.example.com'] }, filters: [tcpProxy('db')] }] : []),
        chain('fallback', [], sdsTls('fallback-cred')),
      ], { listenerFilters: [tlsInspector] })],
      routes: names.map(route),
      clusters: [
        ...names.map((n) => staticCluster(n, [apps[n] ?? apps.bookinfo!])),
        ...(passthrough ? [staticCluster('db', [passthrough])] : []),
      ],
    });
  }

  async function start(credentials: Record<string, string>, passthrough?: string) {
    const apps: Record<string, string> = {};
    for (const n of ['bookinfo', 'wild', 'mtls', 'sans', 'dual', 'fallback']) {
      const a = await nameApp(n);
      cleanup.push(() => a.close());
      apps[n] = a.address;
    }
    const port = await freePort();
    const config = new KubeletVolume();
    const creds = new KubeletVolume();
    cleanup.push(() => config.remove(), () => creds.remove());
    config.write({ 'config.pb.gz': packProxyConfig(await gatewayConfig(port, apps, passthrough)).gzipped });
    creds.write(credentials);
    const logs: string[] = [];
    const log = recordingLogger(logs);
    const sidecar: Sidecar = await startGateway({ configDir: config.dir, credentialsDir: creds.dir, log, cleanup });
    return { port, creds, logs, sidecar };
  }

  const allCredentials = () => ({
    ...credentialFiles('bookinfo-cred', bookinfo),
    ...credentialFiles('wild-cred', wildcard),
    ...credentialFiles('mtls-cred', { ...mtls, ca }),
    // A separate `<name>-cacert` Secret, flattened by the operator under the credential's own name.
    ...credentialFiles('sans-cred', { ...wildcard, ca }),
    ...credentialFiles('dual-ec', dualEc),
    ...credentialFiles('dual-rsa', dualRsa),
  });

  it('picks the chain by SNI: exact over wildcard, wildcard over the chain without names; a missing credential fails its chain only', async () => {
    const { port, logs } = await start(allCredentials());
    // Reported when the config and credentials load, before any client tries it.
    const warned = () => logs.filter((l) => l.startsWith('warn TLS server cannot serve') && l.includes('kubernetes://fallback-cred'));
    expect(warned()).to.have.length(1);
    expect(warned()[0]).to.include('"filterChain":"fallback"');
    const exact = await httpsGet(port, { sni: 'bookinfo.example.com', host: 'bookinfo.example.com', path: '/p', ca });
    expect(exact).to.deep.equal({ body: 'bookinfo /p', serial: bookinfo.serial });
    const wild = await httpsGet(port, { sni: 'reviews.example.com', host: 'reviews.example.com', ca });
    expect(wild).to.deep.equal({ body: 'wild /', serial: wildcard.serial });
    // The fallback chain names fallback-cred, which the credentials volume does not hold.
    const other = await httpsGet(port, { sni: 'shop.example.org', host: 'default.example.org', ca });
    expect(other.body).to.equal(undefined);
    expect(other.error).to.be.a('string');
    const noSni = await httpsGet(port, { host: 'default.example.org', ca });
    expect(noSni.body).to.equal(undefined);
    // The refused handshakes are logged too, without repeating the warning.
    expect(logs.filter((l) => l.startsWith('debug cannot terminate TLS') && l.includes('kubernetes://fallback-cred'))).to.have.length(2);
    expect(warned()).to.have.length(1);
    // The other chains are unaffected.
    expect((await httpsGet(port, { sni: 'bookinfo.example.com', host: 'bookinfo.example.com', ca })).body).to.equal('bookinfo /');
  });

  it('serves a credential that appears later, and refuses a bad one without touching the others', async () => {
    const { port, creds } = await start({ ...allCredentials(), ...credentialFiles('fallback-cred', { cert: fallback.cert, key: bookinfo.key }) });
    // A key that does not belong to the certificate: the chain's handshakes fail.
    expect((await httpsGet(port, { sni: 'x.example.org', host: 'default.example.org', ca })).body).to.equal(undefined);
    expect((await httpsGet(port, { sni: 'a.example.com', host: 'a.example.com', ca })).body).to.equal('wild /');
    creds.write({ ...allCredentials(), ...credentialFiles('fallback-cred', fallback) });
    let reply = await httpsGet(port, { sni: 'x.example.org', host: 'default.example.org', ca });
    const end = Date.now() + 3000;
    while (reply.body === undefined && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
      reply = await httpsGet(port, { sni: 'x.example.org', host: 'default.example.org', ca });
    }
    expect(reply).to.deep.equal({ body: 'fallback /', serial: fallback.serial });
  });

  it('rotates a credential: new handshakes get the new certificate, a keep-alive connection opened before keeps working', async () => {
    const { port, creds } = await start(allCredentials());
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca, servername: 'bookinfo.example.com' });
    cleanup.push(() => agent.destroy());
    const get = (path: string) => new Promise<{ body: string; serial: string; reused: boolean; socket: TLSSocket }>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port, path, agent, headers: { host: 'bookinfo.example.com' }, servername: 'bookinfo.example.com' }, (res) => {
        let body = '';
        // The agent takes the socket back at the end of the response: note it first.
        const socket = res.socket as TLSSocket;
        const serial = socket.getPeerCertificate().serialNumber;
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ body, serial, reused: req.reusedSocket, socket }));
      });
      req.on('error', reject);
    });
    const first = await get('/one');
    expect(first).to.deep.include({ body: 'bookinfo /one', serial: bookinfo.serial });
    const rotated = await hostCert(['bookinfo.example.com']);
    creds.write({ ...allCredentials(), ...credentialFiles('bookinfo-cred', rotated) });
    let fresh = await httpsGet(port, { sni: 'bookinfo.example.com', host: 'bookinfo.example.com', ca });
    const end = Date.now() + 3000;
    while (fresh.serial !== rotated.serial && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
      fresh = await httpsGet(port, { sni: 'bookinfo.example.com', host: 'bookinfo.example.com', ca });
    }
    expect(fresh).to.deep.equal({ body: 'bookinfo /', serial: rotated.serial });
    const again = await get('/two');
    expect(again).to.deep.include({ body: 'bookinfo /two', serial: bookinfo.serial, reused: true });
    expect(again.socket).to.equal(first.socket);
  });

  it('MUTUAL: a client certificate from the credential\'s CA is required', async () => {
    const { port } = await start(allCredentials());
    const client = await hostCert(['client.example.com'], undefined, true);
    const withCert = await httpsGet(port, { sni: 'mtls.example.com', host: 'mtls.example.com', ca, client });
    expect(withCert).to.deep.equal({ body: 'mtls /', serial: mtls.serial });
    const without = await httpsGet(port, { sni: 'mtls.example.com', host: 'mtls.example.com', ca });
    expect(without.body).to.equal(undefined);
    const foreign = await hostCert(['client.example.com'], await createCa('another CA'), true);
    const wrongCa = await httpsGet(port, { sni: 'mtls.example.com', host: 'mtls.example.com', ca, client: foreign });
    expect(wrongCa.body).to.equal(undefined);
    // Istio's shape with subjectAltNames: the client certificate's SAN must match as well.
    expect((await httpsGet(port, { sni: 'sans.example.com', host: 'sans.example.com', ca, client })).body).to.equal('sans /');
    const otherName = await hostCert(['intruder.example.com'], undefined, true);
    expect((await httpsGet(port, { sni: 'sans.example.com', host: 'sans.example.com', ca, client: otherName })).body).to.equal(undefined);
  });

  it('serves both certificates of two credentialNames (RSA and ECDSA) and only the configured TLS 1.2 cipher suites', async () => {
    const { port } = await start(allCredentials());
    const dual = (ciphers: string) => httpsGet(port, {
      sni: 'dual.example.com', host: 'dual.example.com', ca: [ca, dualRsa.cert], tls: { maxVersion: 'TLSv1.2', ciphers },
    });
    expect(await dual('ECDHE-ECDSA-AES128-GCM-SHA256')).to.deep.equal({ body: 'dual /', serial: dualEc.serial });
    expect(await dual('ECDHE-RSA-AES128-GCM-SHA256')).to.deep.equal({ body: 'dual /', serial: dualRsa.serial });
    expect((await dual('ECDHE-RSA-AES256-GCM-SHA384')).body).to.equal(undefined);
  });

  it('speaks HTTP/2 after the handshake when the client offers h2', async () => {
    const { port } = await start(allCredentials());
    const session = http2.connect(`https://bookinfo.example.com:${port}`, {
      ca, servername: 'bookinfo.example.com', createConnection: () => tlsConnect({ host: '127.0.0.1', port, servername: 'bookinfo.example.com', ca, ALPNProtocols: ['h2'] }),
    });
    cleanup.push(() => session.close());
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/h2', ':authority': 'bookinfo.example.com' });
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (text += c));
      req.on('end', () => resolve(text));
      req.on('error', reject);
      req.end();
    });
    expect(body).to.equal('bookinfo /h2');
  });

  it('PASSTHROUGH: an SNI-matched tcp_proxy chain forwards the TLS stream to the cluster untouched', async () => {
    const backend = await tlsBackend('db-backend', passthroughCert.cert, passthroughCert.key);
    cleanup.push(() => backend.close());
    const { port } = await start(allCredentials(), backend.address);
    const { connect } = await import('node:tls');
    const seen = await new Promise<{ text: string; serial: string }>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, servername: 'db.example.com', ca }, () => {
        const serial = s.getPeerCertificate().serialNumber;
        let text = '';
        s.setEncoding('utf8');
        s.on('data', (c: string) => (text += c));
        s.on('end', () => resolve({ text, serial }));
      });
      s.on('error', reject);
    });
    // The backend's own certificate and the SNI the client sent: the gateway did not terminate.
    expect(seen).to.deep.equal({ text: 'db-backend sni=db.example.com', serial: passthroughCert.serial });
    expect((await httpsGet(port, { sni: 'bookinfo.example.com', host: 'bookinfo.example.com', ca })).body).to.equal('bookinfo /');
  });
});
