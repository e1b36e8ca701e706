// Upstream TLS against real node:tls / node:https servers with certificates from weft's CA: ISTIO_MUTUAL with the
// workload identity files (peer SPIFFE id checked, client certificate presented, rotation picked up by new
// connections), failures on a wrong SAN or a foreign CA, SIMPLE TLS with SNI and typed SAN matchers, MUTUAL with
// client certificate files.
import { createServer as createHttpsServer } from 'node:https';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { expect } from 'chai';
import { createRootCa } from '../../src/pki/ca.ts';
import type { MeshCa } from '../../src/pki/ca.ts';
import { createCa, issueLeaf } from '../../src/pki/certs.ts';
import { spiffeId } from '../../src/pki/spiffe.ts';
import { issueWorkloadCert } from '../../src/pki/workload-cert.ts';
import type { WorkloadCert } from '../../src/pki/workload-cert.ts';
import { ROOT_CERT, WORKLOAD_CERT_CHAIN, WORKLOAD_KEY } from '../../src/translate/identity-files.ts';
import { createClusterManager } from '../../src/proxy/upstream/index.ts';
import type { WeftClusterManager } from '../../src/proxy/upstream/index.ts';
import { loaded, mapFiles, staticCluster } from '../support/proxy-upstream-fixtures.ts';

const TLS_CONTEXT = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const MESH_ID = 'spiffe://cluster.local/ns/shop/sa/mesh';

/** The transport socket translation writes for ISTIO_MUTUAL (see test/golden/dr-tls.golden.yaml). */
function istioMutual(sans: string[]): Record<string, unknown> {
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: {
      '@type': TLS_CONTEXT,
      commonTlsContext: {
        alpnProtocols: ['istio'],
        tlsCertificates: [{ certificateChain: { filename: WORKLOAD_CERT_CHAIN }, privateKey: { filename: WORKLOAD_KEY } }],
        tlsParams: { tlsMaximumProtocolVersion: 'TLSv1_3', tlsMinimumProtocolVersion: 'TLSv1_2' },
        validationContext: { matchSubjectAltNames: sans.map((exact) => ({ exact })), trustedCa: { filename: ROOT_CERT } },
      },
      sni: 'outbound_.8080_._.mesh.shop.svc.cluster.local',
    },
  };
}

/** Everything the server sends until it ends the connection. */
function readAll(sock: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let b = '';
    sock.on('data', (d) => { b += String(d); });
    sock.on('end', () => resolve(b));
  });
}

const uriOf = (s: TLSSocket) => /URI:([^,\s]+)/.exec(s.getPeerCertificate()?.subjectaltname ?? '')?.[1] ?? '';

function identityFiles(cert: WorkloadCert) {
  return mapFiles({ [WORKLOAD_CERT_CHAIN]: cert.certChainPem, [WORKLOAD_KEY]: cert.keyPem, [ROOT_CERT]: cert.rootCertPem });
}

async function listen<T extends HttpsServer | TlsServer>(s: T): Promise<{ server: T; address: string }> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { server: s, address: `127.0.0.1:${(s.address() as AddressInfo).port}` };
}

describe('proxy upstream: TLS', function () {
  this.timeout(10_000);
  let ca: MeshCa;
  let serverCert: WorkloadCert;
  let clientCert: WorkloadCert;
  let manager: WeftClusterManager | undefined;
  const closers: Array<() => Promise<void>> = [];

  before(async () => {
    ca = await createRootCa();
    serverCert = await issueWorkloadCert(ca, spiffeId('cluster.local', 'shop', 'mesh'));
    clientCert = await issueWorkloadCert(ca, spiffeId('cluster.local', 'shop', 'frontend'));
  });

  afterEach(async () => {
    await manager?.close();
    manager = undefined;
    await Promise.all(closers.splice(0).map((c) => c()));
  });

  /** An mTLS HTTPS server answering with the client's SPIFFE id. */
  async function meshServer(cert: WorkloadCert = serverCert): Promise<string> {
    const { server, address } = await listen(createHttpsServer({
      key: cert.keyPem, cert: cert.certChainPem, ca: cert.rootCertPem, requestCert: true, rejectUnauthorized: true,
      // A peer sidecar accepts the in-mesh ALPN name.
      ALPNProtocols: ['http/1.1', 'istio'],
    }, (req, res) => res.end(uriOf(req.socket as TLSSocket))));
    closers.push(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }));
    return address;
  }

  function meshCluster(address: string, sans: string[]) {
    return staticCluster('mesh', [address], { transportSocket: istioMutual(sans) });
  }

  it('ISTIO_MUTUAL: presents the workload certificate and checks the peer SPIFFE id', async () => {
    const address = await meshServer();
    manager = createClusterManager();
    manager.update(loaded([meshCluster(address, [MESH_ID])]), identityFiles(clientCert));
    const c = manager.get('mesh')!;
    const h = c.pick({})!;
    const res = await c.dispatcher(h).request({ method: 'GET', path: '/' });
    expect(res.statusCode).to.equal(200);
    expect(await res.body.text()).to.equal('spiffe://cluster.local/ns/shop/sa/frontend');
    expect(c.peerPrincipal(h)).to.equal(MESH_ID);
  });

  it('ISTIO_MUTUAL fails when the peer SPIFFE id is not among the SANs', async () => {
    const address = await meshServer();
    manager = createClusterManager();
    manager.update(loaded([meshCluster(address, ['spiffe://cluster.local/ns/shop/sa/other'])]), identityFiles(clientCert));
    const c = manager.get('mesh')!;
    const h = c.pick({})!;
    const err = await c.connect(h).then(() => undefined, (e: Error & { code?: string }) => e);
    expect(err?.code).to.equal('tls');
    expect(String((err?.cause as Error | undefined)?.message)).to.include('match none of the configured subject alt names');
    const httpErr = await c.dispatcher(h).request({ method: 'GET', path: '/' }).then(() => undefined, (e: Error) => e);
    expect(httpErr).to.be.instanceOf(Error);
    expect(c.peerPrincipal(h)).to.equal(undefined);
  });

  it('ISTIO_MUTUAL fails against a server whose certificate comes from a foreign CA', async () => {
    const foreign = await createRootCa();
    const address = await meshServer(await issueWorkloadCert(foreign, spiffeId('cluster.local', 'shop', 'mesh')));
    manager = createClusterManager();
    manager.update(loaded([meshCluster(address, [MESH_ID])]), identityFiles(clientCert));
    const c = manager.get('mesh')!;
    const err = await c.connect(c.pick({})!).then(() => undefined, (e: Error & { code?: string }) => e);
    expect(err?.code).to.equal('tls');
  });

  it('a rotated identity is used by the next connection', async () => {
    const seen: string[] = [];
    const { server, address } = await listen(createTlsServer({
      key: serverCert.keyPem, cert: serverCert.certChainPem, ca: serverCert.rootCertPem, requestCert: true, rejectUnauthorized: true,
    }, (s) => s.end(uriOf(s))));
    closers.push(() => new Promise((r) => server.close(() => r())));
    const files = identityFiles(clientCert);
    manager = createClusterManager();
    manager.update(loaded([meshCluster(address, [MESH_ID])]), files);
    const c = manager.get('mesh')!;
    const h = c.pick({})!;
    seen.push(await readAll(await c.connect(h)));
    const rotated = await issueWorkloadCert(ca, spiffeId('cluster.local', 'shop', 'frontend-v2'));
    files.set(WORKLOAD_CERT_CHAIN, rotated.certChainPem);
    files.set(WORKLOAD_KEY, rotated.keyPem);
    seen.push(await readAll(await c.connect(h)));
    expect(seen).to.deep.equal(['spiffe://cluster.local/ns/shop/sa/frontend', 'spiffe://cluster.local/ns/shop/sa/frontend-v2']);
  });

  it('SIMPLE: sends the configured SNI and checks typed DNS SANs against a CA file', async () => {
    const web = await createCa('test web CA');
    const leaf = await issueLeaf(web, { commonName: 'api.example.com', dnsNames: ['api.example.com'], server: true });
    let sni = '';
    const { server, address } = await listen(createHttpsServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
      sni = (req.socket as TLSSocket).servername || '';
      res.end('simple');
    }));
    closers.push(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }));
    const socket = (sans: Record<string, unknown>) => ({
      name: 'envoy.transport_sockets.tls',
      typedConfig: { '@type': TLS_CONTEXT, sni: 'api.example.com', commonTlsContext: { validationContext: { trustedCa: { filename: '/etc/certs/ca.pem' }, ...sans } } },
    });
    const files = mapFiles({ '/etc/certs/ca.pem': web.certPem });
    manager = createClusterManager();
    manager.update(loaded([
      staticCluster('ok', [address], { transportSocket: socket({ matchTypedSubjectAltNames: [{ sanType: 'DNS', matcher: { suffix: '.example.com' } }] }) }),
      staticCluster('wrong', [address], { transportSocket: socket({ matchTypedSubjectAltNames: [{ sanType: 'URI', matcher: { exact: 'api.example.com' } }] }) }),
    ]), files);
    const ok = manager.get('ok')!;
    const res = await ok.dispatcher(ok.pick({})!).request({ method: 'GET', path: '/' });
    expect(await res.body.text()).to.equal('simple');
    expect(sni).to.equal('api.example.com');
    const wrong = manager.get('wrong')!;
    const err = await wrong.connect(wrong.pick({})!).then(() => undefined, (e: Error & { code?: string }) => e);
    expect(err?.code).to.equal('tls');
  });

  it('auto SNI: the request authority is sent as SNI and checked against the certificate', async () => {
    const web = await createCa('test web CA');
    const leaf = await issueLeaf(web, { commonName: 'api.example.com', dnsNames: ['*.example.com'], server: true });
    const snis: string[] = [];
    const { server, address } = await listen(createHttpsServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
      snis.push((req.socket as TLSSocket).servername || '');
      res.end('auto');
    }));
    closers.push(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }));
    manager = createClusterManager();
    manager.update(loaded([staticCluster('auto', [address], {
      transportSocket: { name: 'tls', typedConfig: { '@type': TLS_CONTEXT, commonTlsContext: { validationContext: { trustedCa: { filename: '/ca.pem' } } } } },
      typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        upstreamHttpProtocolOptions: { autoSni: true, autoSanValidation: true },
        explicitHttpConfig: { httpProtocolOptions: {} },
      } },
    })]), mapFiles({ '/ca.pem': web.certPem }));
    const c = manager.get('auto')!;
    const h = c.pick({})!;
    const res = await c.dispatcher(h, undefined, 'api.example.com:8443').request({ method: 'GET', path: '/' });
    expect(await res.body.text()).to.equal('auto');
    expect(snis).to.deep.equal(['api.example.com']);
    const err = await c.dispatcher(h, undefined, 'api.example.org').request({ method: 'GET', path: '/' }).then(() => undefined, (e: Error) => e);
    expect(String(err?.message)).to.include('api.example.org');
  });

  it('MUTUAL: presents the client certificate files of the context', async () => {
    const { server, address } = await listen(createTlsServer({
      key: serverCert.keyPem, cert: serverCert.certChainPem, ca: serverCert.rootCertPem, requestCert: true, rejectUnauthorized: true,
    }, (s) => s.end(uriOf(s))));
    closers.push(() => new Promise((r) => server.close(() => r())));
    const files = mapFiles({ '/c/cert.pem': clientCert.certChainPem, '/c/key.pem': clientCert.keyPem, '/c/ca.pem': clientCert.rootCertPem });
    manager = createClusterManager();
    manager.update(loaded([staticCluster('m', [address], { transportSocket: { name: 'tls', typedConfig: {
      '@type': TLS_CONTEXT,
      commonTlsContext: {
        tlsCertificates: [{ certificateChain: { filename: '/c/cert.pem' }, privateKey: { filename: '/c/key.pem' } }],
        validationContext: { trustedCa: { filename: '/c/ca.pem' }, matchSubjectAltNames: [{ prefix: 'spiffe://cluster.local/ns/shop/' }] },
      },
    } } })]), files);
    const c = manager.get('m')!;
    const got = await readAll(await c.connect(c.pick({})!));
    expect(got).to.equal('spiffe://cluster.local/ns/shop/sa/frontend');
  });
});
