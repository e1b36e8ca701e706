// Traffic from outside the mesh through the ingress gateway (config/'s weft-ingressgateway, a LoadBalancer Service;
// on the local cluster served on a loopback address of this machine; on another tier, the Service's address or
// WEFT_E2E_INGRESS): HTTPS with SNI and a certificate from a Secret, its rotation under an open connection, mutual
// TLS at the edge, PASSTHROUGH, the https redirect and path routing.
import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { waitFor } from '../../hack/local-cluster/processes.ts';
import { issueLeaf } from '../../src/pki/certs.ts';
import { apply, readyPods } from '../support/e2e-mesh.ts';
import type { MeshTarget } from '../support/e2e-target.ts';
import { e2eTiers, TIER_START_MS } from '../support/e2e-tiers.ts';
import { backendSecret, edgePki, gatewayWorkloads, GATEWAY_NS, GW_NS, HOSTS, type EdgePki } from './gateway-manifests.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  serial?: string;
  reused?: boolean;
}

function https(ip: string, host: string, path: string, o: Partial<RequestOptions> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: ip, port: 443, servername: host, path, headers: { host }, timeout: 5000, ...o }, (res) => {
      const socket = res.socket as TLSSocket;
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, serial: socket.getPeerCertificate().serialNumber, reused: req.reusedSocket }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

function http(ip: string, host: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: ip, port: 80, path, headers: { host }, timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;

for (const tier of e2eTiers()) describe(`e2e [${tier.name}]: the ingress gateway`, function () {
  this.timeout(180_000);
  let mesh: MeshTarget;
  let pki: EdgePki;
  let ip: string;
  let shopSerial: string;
  let backendSerial: string;

  before(async function () {
    this.timeout(TIER_START_MS);
    const m = tier.target();
    if ('skip' in m) {
      console.log(`      skipped: ${m.skip}`);
      return this.skip();
    }
    mesh = await m;
    pki = await edgePki();
    const shop = await pki.secret('shop-cert', HOSTS.shop);
    const secure = await pki.secret('secure-cert', HOSTS.secure, true);
    const backend = await issueLeaf(pki.ca, { commonName: HOSTS.tls, dnsNames: [HOSTS.tls], server: true });
    shopSerial = serialOf(shop.certPem);
    backendSerial = serialOf(backend.certPem);
    await apply(mesh, [shop.yaml, secure.yaml].join('---\n'));
    await apply(mesh, gatewayWorkloads());
    await apply(mesh, backendSecret(backend.certPem, backend.keyPem));
    await readyPods(mesh, GATEWAY_NS, 'istio=ingressgateway', 2);
    for (const app of ['site-a', 'site-b', 'tls-backend']) await readyPods(mesh, GW_NS, `app=${app}`, 1);
    await waitFor('the ingress gateway address', async () => {
      ip = process.env.WEFT_E2E_INGRESS ?? (await mesh.kubectl(['get', 'service', 'weft-ingressgateway', '-n', GATEWAY_NS, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).stdout;
      return ip.length > 0;
    }, 30_000);
    await waitFor('HTTPS through the gateway', async () => (await https(ip, HOSTS.shop, '/a', { ca: pki.ca.certPem, agent: false }).catch(() => undefined))?.status === 200, 60_000);
    // The Service spreads connections over both gateway replicas (and a backend may still serve an older
    // certificate from its Secret): every server of the Gateway must answer several times in a row first.
    const settled = async () => {
      const answers = await Promise.all([
        http(ip, HOSTS.plain, '/a').then((r) => r.status === 200 && r.body.includes('"version":"a"')),
        http(ip, HOSTS.plain, '/b/x').then((r) => r.status === 200 && r.body.includes('"version":"b"')),
        https(ip, HOSTS.tls, '/hello', { ca: pki.ca.certPem, agent: false }).then((r) => r.serial === backendSerial),
      ].map((p) => p.catch(() => false)));
      return answers.every(Boolean);
    };
    let inARow = 0;
    await waitFor('every gateway server answering on every replica', async () => ((await settled()) ? ++inARow : (inARow = 0)) >= 6, 120_000);
  });

  it('terminates HTTPS by SNI with the certificate from its Secret and routes into the mesh with mTLS', async () => {
    const r = await https(ip, HOSTS.shop, '/a', { ca: pki.ca.certPem, agent: false });
    expect(r.status).to.equal(200);
    expect(r.serial).to.equal(shopSerial);
    const body = JSON.parse(r.body) as { service: string; version: string; peer: string };
    expect(body).to.include({ service: 'httpbin', version: 'a' });
    expect(body.peer).to.equal(`spiffe://cluster.local/ns/${GATEWAY_NS}/sa/weft-ingressgateway`);
  });

  it('routes by path to two services', async () => {
    expect(JSON.parse((await http(ip, HOSTS.plain, '/a')).body)).to.include({ version: 'a' });
    expect(JSON.parse((await http(ip, HOSTS.plain, '/b/x')).body)).to.include({ version: 'b' });
  });

  it('answers plain HTTP for an httpsRedirect server with 301 to https', async () => {
    const r = await http(ip, HOSTS.shop, '/a?x=1');
    expect(r.status).to.equal(301);
    expect(r.headers.location).to.equal(`https://${HOSTS.shop}/a?x=1`);
  });

  it('requires a client certificate at the edge for a MUTUAL server', async () => {
    const without = await https(ip, HOSTS.secure, '/a', { ca: pki.ca.certPem, agent: false }).then((r) => `answered ${r.status}`, (e: Error) => `refused: ${e.message}`);
    expect(without).to.match(/^refused/);
    const client = await pki.client();
    const withCert = await https(ip, HOSTS.secure, '/a', { ca: pki.ca.certPem, cert: client.certPem, key: client.keyPem, agent: false });
    expect(withCert.status).to.equal(200);
  });

  it('passes TLS through to a backend that presents its own certificate', async () => {
    const r = await https(ip, HOSTS.tls, '/hello', { ca: pki.ca.certPem, agent: false });
    expect(r.serial).to.equal(backendSerial);
    expect(JSON.parse(r.body)).to.include({ service: 'httpbin', version: 'tls', path: '/hello' });
  });

  it('rotates the certificate from its Secret without dropping an open connection', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await https(ip, HOSTS.shop, '/a', { ca: pki.ca.certPem, agent });
      expect(before.serial).to.equal(shopSerial);
      const next = await pki.secret('shop-cert', HOSTS.shop);
      await apply(mesh, next.yaml);
      await waitFor('new connections to get the new certificate', async () =>
        (await https(ip, HOSTS.shop, '/a', { ca: pki.ca.certPem, agent: false }).catch(() => undefined))?.serial === serialOf(next.certPem), 30_000);
      const after = await https(ip, HOSTS.shop, '/a', { ca: pki.ca.certPem, agent });
      expect(after.reused, 'the keep-alive connection opened before the rotation').to.equal(true);
      expect(after.status).to.equal(200);
      expect(after.serial).to.equal(shopSerial);
    } finally {
      agent.destroy();
    }
  });
});
