// The mesh CA and workload certificates: SPIFFE ids, chains that openssl and Node's tls accept, plug-in CAs with
// an intermediate, renewal halfway through the lifetime with jitter, and root rotation keeping both roots.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { expect } from 'chai';
import { bundlePem, caFromFiles, createRootCa, rootNeedsRotation, splitPem, type MeshCa } from '../../src/pki/ca.ts';
import { createCa } from '../../src/pki/certs.ts';
import { formatSpiffeId, parseSpiffeId, spiffeId } from '../../src/pki/spiffe.ts';
import { inspectChain, issueWorkloadCert, renewalDue, WORKLOAD_CERT_TTL_MS, type WorkloadCert } from '../../src/pki/workload-cert.ts';

const HOUR = 3_600_000;

function opensslVerify(root: string, chain: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-pki-'));
  try {
    const certs = splitPem(chain);
    writeFileSync(join(dir, 'root.pem'), root);
    writeFileSync(join(dir, 'leaf.pem'), certs[0]!);
    writeFileSync(join(dir, 'untrusted.pem'), certs.slice(1).join('') || certs[0]!);
    const args = ['verify', '-CAfile', join(dir, 'root.pem'), '-purpose', 'sslclient'];
    if (certs.length > 1) args.push('-untrusted', join(dir, 'untrusted.pem'));
    return execFileSync('openssl', [...args, join(dir, 'leaf.pem')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Server and client, each with its own identity, verifying each other; resolves to the URIs each side saw. */
async function handshake(server: WorkloadCert, client: WorkloadCert): Promise<{ serverSaw: string; clientSaw: string }> {
  const uriOf = (c: tls.PeerCertificate | undefined) => /URI:([^,\s]+)/.exec(c?.subjectaltname ?? '')?.[1] ?? '';
  const srv = tls.createServer({ key: server.keyPem, cert: server.certChainPem, ca: server.rootCertPem, requestCert: true, rejectUnauthorized: true });
  let serverSaw = '';
  srv.on('secureConnection', (s) => {
    serverSaw = uriOf(s.getPeerCertificate());
    s.end('ok');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const port = (srv.address() as AddressInfo).port;
    const clientSaw = await new Promise<string>((resolve, reject) => {
      const want = formatSpiffeId(server.id);
      const sock = tls.connect({
        host: '127.0.0.1',
        port,
        key: client.keyPem,
        cert: client.certChainPem,
        ca: client.rootCertPem,
        // Mesh peers are named by SPIFFE id, not by host name.
        checkServerIdentity: (_host, cert) => (uriOf(cert) === want ? undefined : new Error(`peer is ${uriOf(cert)}, want ${want}`)),
      });
      sock.on('secureConnect', () => {
        const seen = uriOf(sock.getPeerCertificate());
        sock.on('data', () => {});
        sock.on('end', () => resolve(seen));
      });
      sock.on('error', reject);
    });
    return { serverSaw, clientSaw };
  } finally {
    await new Promise((r) => srv.close(r));
  }
}

describe('pki: SPIFFE ids', () => {
  it('formats and parses round-trip', () => {
    const id = spiffeId('cluster.local', 'bookinfo', 'reviews');
    const uri = formatSpiffeId(id);
    expect(uri).to.equal('spiffe://cluster.local/ns/bookinfo/sa/reviews');
    expect(parseSpiffeId(uri)).to.deep.equal(id);
    expect(formatSpiffeId(parseSpiffeId(uri))).to.equal(uri);
  });

  it('refuses what would not round-trip', () => {
    for (const bad of ['spiffe://cluster.local/ns/a/sa/', 'spiffe://cluster.local/ns/a/sa/b/c', 'https://x/ns/a/sa/b', 'spiffe://Cluster/ns/a/sa/b', 'spiffe://td/ns/A/sa/b']) {
      expect(() => parseSpiffeId(bad), bad).to.throw();
    }
  });
});

describe('pki: workload certificates', function () {
  this.timeout(20_000);
  let ca: MeshCa;
  before(async () => {
    ca = await createRootCa();
  });

  it('issues a 24 h leaf with the SPIFFE URI SAN, server and client EKU, that openssl verifies', async () => {
    const now = new Date();
    const cert = await issueWorkloadCert(ca, spiffeId('cluster.local', 'ns1', 'reviews'), { now });
    const leaf = new X509Certificate(cert.certChainPem);
    expect(leaf.subjectAltName).to.equal('URI:spiffe://cluster.local/ns/ns1/sa/reviews');
    expect(leaf.keyUsage).to.include.members(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(cert.notAfter.getTime() - cert.notBefore.getTime()).to.be.closeTo(WORKLOAD_CERT_TTL_MS + 60_000, 2_000);
    expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
    expect(cert.rootCertPem).to.equal(bundlePem(ca));
    expect(opensslVerify(cert.rootCertPem, cert.certChainPem)).to.contain('OK');
    expect(inspectChain(cert.certChainPem)?.id).to.deep.equal(cert.id);
  });

  it('lets two identities complete a mutual TLS handshake, each seeing the other’s SPIFFE id', async () => {
    const a = await issueWorkloadCert(ca, spiffeId('cluster.local', 'ns1', 'productpage'));
    const b = await issueWorkloadCert(ca, spiffeId('cluster.local', 'ns1', 'reviews'));
    expect(await handshake(b, a)).to.deep.equal({ serverSaw: 'spiffe://cluster.local/ns/ns1/sa/productpage', clientSaw: 'spiffe://cluster.local/ns/ns1/sa/reviews' });
  });

  it('a client trusting another root refuses the handshake', async () => {
    const other = await createRootCa();
    const server = await issueWorkloadCert(ca, spiffeId('cluster.local', 'ns1', 'reviews'));
    const client = await issueWorkloadCert(other, spiffeId('cluster.local', 'ns1', 'productpage'));
    let failed = false;
    await handshake(server, client).catch(() => (failed = true));
    expect(failed).to.equal(true);
  });

  it('renews at 50 % ± 5 % of the lifetime, never after expiry', () => {
    const notBefore = new Date(1_700_000_000_000);
    const notAfter = new Date(notBefore.getTime() + 24 * HOUR);
    expect(renewalDue({ notBefore, notAfter }, () => 0.5).getTime()).to.equal(notBefore.getTime() + 12 * HOUR);
    expect(renewalDue({ notBefore, notAfter }, () => 0).getTime()).to.equal(notBefore.getTime() + 10.8 * HOUR);
    expect(renewalDue({ notBefore, notAfter }, () => 0.999999).getTime()).to.be.closeTo(notBefore.getTime() + 13.2 * HOUR, 1_000);
    for (const r of [0, 0.1, 0.7, 1, 5, -3]) expect(renewalDue({ notBefore, notAfter }, () => r).getTime()).to.be.lessThan(notAfter.getTime());
  });

  it('never issues a leaf outliving the CA', async () => {
    const shortCa = await createRootCa({ validMs: 2 * HOUR });
    const cert = await issueWorkloadCert(shortCa, spiffeId('cluster.local', 'ns1', 'a'));
    expect(cert.notAfter.getTime()).to.be.at.most(shortCa.signer.cert.notAfter.getTime());
  });
});

describe('pki: plug-in CA and root rotation', function () {
  this.timeout(20_000);

  it('issues from a plug-in intermediate: cert-chain = leaf + intermediate, root-cert = root', async () => {
    const root = await createCa('plug-in root');
    const inter = await createCa('plug-in intermediate', { issuer: root });
    const ca = await caFromFiles({
      'ca-cert.pem': inter.certPem,
      'ca-key.pem': inter.keyPem,
      'root-cert.pem': root.certPem,
      'cert-chain.pem': inter.certPem + root.certPem,
    });
    expect(ca.intermediatesPem).to.have.length(1);
    const cert = await issueWorkloadCert(ca, spiffeId('cluster.local', 'ns1', 'reviews'));
    const chain = splitPem(cert.certChainPem);
    expect(chain).to.have.length(2);
    expect(new X509Certificate(chain[1]!).fingerprint256).to.equal(new X509Certificate(inter.certPem).fingerprint256);
    expect(new X509Certificate(cert.rootCertPem).fingerprint256).to.equal(new X509Certificate(root.certPem).fingerprint256);
    expect(opensslVerify(cert.rootCertPem, cert.certChainPem)).to.contain('OK');
  });

  it('accepts an RSA plug-in CA made by openssl', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-pki-'));
    try {
      const o = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'ignore' });
      o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'root-key.pem', '-out', 'root-cert.pem', '-days', '30', '-subj', '/O=Example/CN=Root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
      o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.csr', '-subj', '/O=Example/CN=Intermediate CA');
      writeFileSync(join(dir, 'ext.cnf'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
      o('x509', '-req', '-in', 'ca.csr', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-CAcreateserial', '-out', 'ca-cert.pem', '-days', '20', '-extfile', 'ext.cnf');
      const read = (f: string) => execFileSync('cat', [join(dir, f)], { encoding: 'utf8' });
      const ca = await caFromFiles({ 'ca-cert.pem': read('ca-cert.pem'), 'ca-key.pem': read('ca-key.pem'), 'root-cert.pem': read('root-cert.pem'), 'cert-chain.pem': read('ca-cert.pem') + read('root-cert.pem') });
      const cert = await issueWorkloadCert(ca, spiffeId('cluster.local', 'ns1', 'reviews'));
      expect(opensslVerify(cert.rootCertPem, cert.certChainPem)).to.contain('OK');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a plug-in CA whose chain does not reach its root', async () => {
    const root = await createCa('root');
    const stranger = await createCa('other root');
    const inter = await createCa('intermediate', { issuer: root });
    let err: unknown;
    await caFromFiles({ 'ca-cert.pem': inter.certPem, 'ca-key.pem': inter.keyPem, 'root-cert.pem': stranger.certPem }).catch((e) => (err = e));
    expect(String(err)).to.match(/does not chain up/);
  });

  it('root rotation keeps the old root in the bundle so both generations verify', async () => {
    const t0 = new Date();
    const old = await createRootCa({ now: t0, validMs: 100 * HOUR });
    expect(rootNeedsRotation(old, new Date(t0.getTime() + 50 * HOUR))).to.equal(false);
    const t1 = new Date(t0.getTime() + 81 * HOUR);
    expect(rootNeedsRotation(old, t1)).to.equal(true);
    const before = await issueWorkloadCert(old, spiffeId('cluster.local', 'ns1', 'a'), { now: new Date() });
    const rotated = await createRootCa({ now: new Date(), previous: old.rootsPem });
    expect(rotated.rootsPem).to.have.length(2);
    const after = await issueWorkloadCert(rotated, spiffeId('cluster.local', 'ns1', 'b'));
    expect(opensslVerify(after.rootCertPem, before.certChainPem)).to.contain('OK');
    expect(opensslVerify(after.rootCertPem, after.certChainPem)).to.contain('OK');
    // Once the old root has expired it leaves the bundle.
    const later = await createRootCa({ now: new Date(Date.now() + 200 * HOUR), previous: rotated.rootsPem });
    expect(later.rootsPem).to.have.length(2);
    expect(later.rootsPem).to.not.include(old.rootsPem[0]);
  });
});
