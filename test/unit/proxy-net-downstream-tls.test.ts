// Downstream mTLS with the DownstreamTlsContext translate() writes for inbound chains (workload certificate from
// the identity files, mesh root as trusted CA, client certificate required): a client certificate from the mesh
// CA is accepted and its SPIFFE id recorded; no certificate and a foreign CA's certificate are refused; an
// identity rotation serves the new certificate to new handshakes while an open connection carries on; h2 over
// mTLS (ALPN) reaches the HTTP handler.
import { expect } from 'chai';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import { createRootCa } from '../../src/pki/ca.ts';
import { formatSpiffeId, spiffeId } from '../../src/pki/spiffe.ts';
import { issueWorkloadCert } from '../../src/pki/workload-cert.ts';
import type { WorkloadCert } from '../../src/pki/workload-cert.ts';
import { createHttpHandler } from '../../src/proxy/http/index.ts';
import { startListeners } from '../../src/proxy/net/listeners.ts';
import type { RunningListeners } from '../../src/proxy/net/listeners.ts';
import type { Identity } from '../../src/proxy/runtime.ts';
import { ROOT_CERT, WORKLOAD_CERT_CHAIN, WORKLOAD_KEY } from '../../src/translate/identity-files.ts';
import { TLS_INSPECTOR, hcm, listener, proxyConfig, routeConfig, tcpProxy, toCluster, vhost } from '../support/envoy-objects.ts';
import { productpageConfig, testCa, workloadIdentity } from '../support/proxy-bundles.ts';
import { echoServer, explicitListener, netRuntime, noHttp, readAll } from '../support/proxy-net-fixtures.ts';
import type { Closable, NetRuntime } from '../support/proxy-net-fixtures.ts';
import { namedServer, staticCluster } from '../support/proxy-upstream-fixtures.ts';
import type { NamedServer } from '../support/proxy-upstream-fixtures.ts';

type O = Record<string, unknown>;

/** The transport socket translate() puts on the inbound mTLS chains of productpage (tcp or http flavour). */
function translatedMtls(kind: 'tcp' | 'http'): O {
  const inbound = productpageConfig().listeners.find((l) => l.name === 'virtualInbound')!;
  const chains = inbound.filterChains as O[];
  const hit = chains.find((c) => {
    const alpn = JSON.stringify((c.transportSocket as O | undefined) ?? '');
    return c.transportSocket && (kind === 'tcp' ? alpn.includes('istio-peer-exchange') : alpn.includes('istio-h2'));
  });
  if (!hit) throw new Error(`translate wrote no ${kind} mTLS chain`);
  return hit.transportSocket as O;
}

const identityFiles = (c: WorkloadCert): Record<string, string> => ({ [WORKLOAD_CERT_CHAIN]: c.certChainPem, [WORKLOAD_KEY]: c.keyPem, [ROOT_CERT]: c.rootCertPem });
const asIdentity = (c: WorkloadCert): Identity => ({ certChain: c.certChainPem, key: c.keyPem, rootCerts: c.rootCertPem, spiffeId: formatSpiffeId(c.id), notAfter: c.notAfter });
const inspector = { name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': TLS_INSPECTOR } };
const inboundTo9080 = explicitListener('inbound', '10.0.1.1', 9080, { log: (l, m, f) => { if (process.env.DEBUG_NET) console.log(l, m, f); } });

describe('proxy net: downstream mTLS', function () {
  this.timeout(15_000);
  let rt: NetRuntime | undefined;
  let running: RunningListeners | undefined;
  let backends: Array<Closable | NamedServer> = [];
  let server: WorkloadCert;
  let client: WorkloadCert;

  before(async () => {
    server = await workloadIdentity('productpage');
    client = await workloadIdentity('reviews');
  });
  afterEach(async () => {
    await running?.close();
    await rt?.clusters.close();
    await Promise.all(backends.map((b) => b.close()));
    running = undefined;
    rt = undefined;
    backends = [];
  });

  async function startTcp(): Promise<number> {
    const echo = await echoServer('app');
    backends.push(echo);
    rt = netRuntime(proxyConfig({
      listeners: [listener('virtualInbound', '0.0.0.0', 15006, [{
        filterChainMatch: { destinationPort: 9080, transportProtocol: 'tls' },
        transportSocket: translatedMtls('tcp'),
        filters: [tcpProxy('inbound|9080||')],
      }], { listenerFilters: [inspector] })],
      clusters: [staticCluster('inbound|9080||', [echo.address])],
    }), identityFiles(server));
    rt.setIdentity(asIdentity(server));
    running = await startListeners(rt, noHttp, inboundTo9080);
    return running.bound()[0]!.port;
  }

  const dial = (port: number, cert?: WorkloadCert, ca = server.rootCertPem) => tls.connect({
    host: '127.0.0.1', port, ca, servername: 'outbound_.9080_._.productpage.bookinfo.svc.cluster.local', ALPNProtocols: ['istio'],
    checkServerIdentity: () => undefined,
    ...(cert ? { cert: cert.certChainPem, key: cert.keyPem } : {}),
  });

  it('accepts a client certificate from the mesh CA and records the peer SPIFFE id', async () => {
    const port = await startTcp();
    const c = dial(port, client);
    const text = readAll(c);
    let served = '';
    c.once('secureConnect', () => {
      served = c.getPeerCertificate().subjectaltname ?? '';
      c.end('ping');
    });
    expect(await text).to.equal('app:ping');
    expect(served).to.equal('URI:spiffe://cluster.local/ns/bookinfo/sa/productpage');
    await new Promise((r) => setTimeout(r, 20));
    const rec = rt!.telemetry.closed[0]!;
    // The peer's namespace comes from its SPIFFE id, as on HTTP records.
    expect(rec.source).to.deep.equal({ principal: 'spiffe://cluster.local/ns/bookinfo/sa/reviews', namespace: 'bookinfo' });
    expect(rec).to.include({ reporter: 'destination', connectionSecurityPolicy: 'mutual_tls', upstreamCluster: 'inbound|9080||' });
  });

  it('refuses a client without a certificate, and one whose certificate a foreign CA issued', async () => {
    const port = await startTcp();
    const bare = dial(port);
    bare.once('secureConnect', () => bare.write('ping'));
    expect(await readAll(bare)).to.equal('');

    const foreign = await issueWorkloadCert(await createRootCa(), spiffeId('cluster.local', 'bookinfo', 'reviews'));
    const c = dial(port, foreign);
    c.once('secureConnect', () => c.write('ping'));
    expect(await readAll(c)).to.equal('');
    expect(rt!.telemetry.opened).to.have.length(0);
    expect(backends[0]).to.include({ connections: 0 });
  });

  it('serves a rotated certificate to new handshakes while an open connection carries on', async () => {
    const port = await startTcp();
    const first = dial(port, client);
    const firstText = readAll(first);
    await new Promise((r) => first.once('secureConnect', r));
    first.write('a');
    const before = first.getPeerCertificate().fingerprint256;

    const rotated = await issueWorkloadCert(await testCa(), spiffeId('cluster.local', 'bookinfo', 'productpage'));
    for (const [p, text] of Object.entries(identityFiles(rotated))) rt!.files.set(p, text);
    rt!.setIdentity(asIdentity(rotated));

    const second = dial(port, client);
    const secondText = readAll(second);
    await new Promise((r) => second.once('secureConnect', r));
    expect(second.getPeerCertificate().fingerprint256).to.not.equal(before);
    expect(second.getPeerCertificate().fingerprint256).to.equal(new (await import('node:crypto')).X509Certificate(rotated.certChainPem).fingerprint256);
    second.end('b');
    first.end('c');
    expect(await secondText).to.equal('app:b');
    expect(await firstText).to.equal('app:ac');
  });

  it('terminates mTLS for an HTTP chain, serves h2 when ALPN picked it, and the HTTP record carries the peer SPIFFE id', async () => {
    const web = await namedServer('productpage-app');
    backends.push(web);
    rt = netRuntime(proxyConfig({
      listeners: [listener('virtualInbound', '0.0.0.0', 15006, [{
        filterChainMatch: { destinationPort: 9080, transportProtocol: 'tls' },
        transportSocket: translatedMtls('http'),
        filters: [hcm('inbound')],
      }], { listenerFilters: [inspector] })],
      routes: [routeConfig('inbound', [vhost('all', ['*'], [toCluster('inbound|9080||')])])],
      clusters: [staticCluster('inbound|9080||', [web.address])],
    }), identityFiles(server));
    running = await startListeners(rt, createHttpHandler(rt), inboundTo9080);
    const port = running.bound()[0]!.port;
    const session = http2.connect(`https://127.0.0.1:${port}`, {
      ca: server.rootCertPem, cert: client.certChainPem, key: client.keyPem, checkServerIdentity: () => undefined,
    });
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/' });
      let t = '';
      req.on('data', (d: Buffer) => { t += d.toString(); });
      req.on('end', () => resolve(t));
      req.on('error', reject);
      req.end();
    });
    const alpn = (session.socket as tls.TLSSocket).alpnProtocol;
    session.close();
    expect(alpn).to.equal('h2');
    expect(body).to.equal('productpage-app');
    await new Promise((r) => setTimeout(r, 20));
    const rec = rt.telemetry.httpRecords[0]!;
    expect(rec.source.principal).to.equal('spiffe://cluster.local/ns/bookinfo/sa/reviews');
    expect(rec.httpVersion).to.match(/^HTTP\/2/);
  });
});
