// Minimal X.509 issuing on @peculiar/x509 and WebCrypto: a CA, and leaf certificates signed by it, as PEM.
// In: names, SANs, usages and lifetimes. Out: PEM strings. New keys are ECDSA P-256 and never leave the caller;
// a loaded CA (loadCa) may also hold an RSA key, as plug-in CAs often do.
import 'reflect-metadata';
import { createPrivateKey, generateKeyPair, webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface Ca extends KeyPairPem {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  /** How this CA signs; ECDSA P-256 with SHA-256 when absent. */
  signingAlgorithm?: SigningAlgorithm;
  /** Authority key identifier extension for the leaves it signs (computed once). */
  aki?: x509.Extension;
}

export type SigningAlgorithm =
  | { name: 'ECDSA'; namedCurve: 'P-256'; hash: 'SHA-256' }
  | { name: 'RSASSA-PKCS1-v1_5'; hash: 'SHA-256' };

export interface LeafOptions {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ips?: string[];
  uris?: string[];
  server?: boolean;
  client?: boolean;
  /** Lifetime; default 365 days. */
  validMs?: number;
  /** Injectable clock for tests of expiry and renewal. */
  now?: Date;
  /** An empty subject (SPIFFE leaves carry their identity in the SAN only, which is then critical). */
  emptySubject?: boolean;
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

export async function publicKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('spki', key);
  return x509.PemConverter.encode(der, 'PUBLIC KEY');
}

function serial(): string {
  // Positive, 16 random bytes: unique without coordination.
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f;
  return Buffer.from(b).toString('hex');
}

function dn(commonName: string, organizations: string[] = []): string {
  const esc = (s: string) => s.replace(/([,+"\\<>;=])/g, '\\$1');
  return [`CN=${esc(commonName)}`, ...organizations.map((o) => `O=${esc(o)}`)].join(', ');
}

export async function createCa(commonName: string, opts: { validMs?: number; now?: Date; organizations?: string[]; issuer?: Ca } = {}): Promise<Ca> {
  if (opts.issuer) return createIntermediate(opts.issuer, commonName, opts);
  const keys = await keyPair();
  const now = opts.now ?? new Date();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: dn(commonName, opts.organizations),
    notBefore: new Date(now.getTime() - 60_000), // tolerate small clock skew between processes
    notAfter: new Date(now.getTime() + (opts.validMs ?? 3650 * DAY_MS)),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/** A CA certificate signed by another CA (for plug-in chains and tests of them). */
async function createIntermediate(issuer: Ca, commonName: string, opts: { validMs?: number; now?: Date; organizations?: string[] }): Promise<Ca> {
  const keys = await keyPair();
  const now = opts.now ?? new Date();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: dn(commonName, opts.organizations),
    issuer: issuer.cert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + (opts.validMs ?? 3650 * DAY_MS)),
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: issuer.signingAlgorithm ?? ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await authorityKeyId(issuer),
    ],
  });
  return { cert, keys, certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/** The issuer's own subject key identifier when it has one (verifiers match the two), else one from its key. */
async function authorityKeyId(ca: Ca): Promise<x509.Extension> {
  if (ca.aki) return ca.aki;
  const ski = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  ca.aki = ski ? new x509.AuthorityKeyIdentifierExtension(ski.keyId) : await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey);
  return ca.aki;
}

/** Rebuilds a CA from its PEM certificate and PKCS#8 (or PKCS#1/SEC1) key: ECDSA P-256 or RSA. */
export async function loadCa(certPem: string, keyPem: string): Promise<Ca> {
  const cert = new x509.X509Certificate(certPem);
  const node = createPrivateKey(keyPem);
  const pkcs8 = node.export({ format: 'der', type: 'pkcs8' });
  let signingAlgorithm: SigningAlgorithm;
  let importAlg: { name: string; namedCurve?: string; hash?: string };
  if (node.asymmetricKeyType === 'ec' && node.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    signingAlgorithm = ALG;
    importAlg = { name: 'ECDSA', namedCurve: 'P-256' };
  } else if (node.asymmetricKeyType === 'rsa') {
    signingAlgorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    importAlg = signingAlgorithm;
  } else {
    throw new Error(`unsupported CA key type ${node.asymmetricKeyType}${node.asymmetricKeyDetails?.namedCurve ? ` (${node.asymmetricKeyDetails.namedCurve})` : ''}; use ECDSA P-256 or RSA`);
  }
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, importAlg, true, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', cert.publicKey.rawData, importAlg, true, ['verify']);
  return { cert, keys: { privateKey, publicKey }, certPem, keyPem, signingAlgorithm };
}

const generateEcKeyPair = promisify(generateKeyPair);

/** A leaf's key pair straight from node:crypto as PKCS#8 PEM and SPKI DER (no WebCrypto export round trip). */
async function leafKeyPair(): Promise<{ keyPem: string; spki: Buffer }> {
  // Encoded by the same thread-pool job that generates the key, off the event loop.
  const { privateKey, publicKey } = await generateEcKeyPair('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { keyPem: privateKey, spki: publicKey };
}

// Leaf extensions that never vary, encoded once.
const LEAF_BASIC = new x509.BasicConstraintsExtension(false, undefined, true);
const LEAF_KEY_USAGE = new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true);
const LEAF_EKU = new Map<string, x509.Extension>();

function extendedKeyUsage(server: boolean, client: boolean): x509.Extension | undefined {
  const usages = [...(server ? [x509.ExtendedKeyUsage.serverAuth] : []), ...(client ? [x509.ExtendedKeyUsage.clientAuth] : [])];
  if (usages.length === 0) return undefined;
  const k = usages.join();
  let ext = LEAF_EKU.get(k);
  if (!ext) LEAF_EKU.set(k, (ext = new x509.ExtendedKeyUsageExtension(usages, false)));
  return ext;
}

export interface IssuedLeaf extends KeyPairPem {
  notBefore: Date;
  notAfter: Date;
}

export async function issueLeaf(ca: Ca, o: LeafOptions): Promise<IssuedLeaf> {
  const keys = await leafKeyPair();
  const now = o.now ?? new Date();
  const names: x509.JsonGeneralName[] = [
    ...(o.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(o.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(o.uris ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
  const extensions: x509.Extension[] = [LEAF_BASIC, LEAF_KEY_USAGE, await authorityKeyId(ca)];
  const eku = extendedKeyUsage(o.server === true, o.client === true);
  if (eku) extensions.push(eku);
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names, o.emptySubject === true));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: o.emptySubject ? '' : dn(o.commonName, o.organizations),
    issuer: ca.cert.subject,
    // Whole seconds: what the certificate can encode, so callers see the validity it really has.
    notBefore: new Date(Math.floor((now.getTime() - 60_000) / 1000) * 1000),
    notAfter: new Date(Math.floor((now.getTime() + (o.validMs ?? 365 * DAY_MS)) / 1000) * 1000),
    publicKey: keys.spki,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ca.signingAlgorithm ?? ALG,
    extensions,
  });
  return { certPem: cert.toString('pem'), keyPem: keys.keyPem, notBefore: cert.notBefore, notAfter: cert.notAfter };
}

/** An ECDSA key pair for signing tokens (the API server's service-account issuer). */
export async function signingKeyPair(): Promise<{ privatePem: string; publicPem: string }> {
  const keys = await keyPair();
  return { privatePem: await privateKeyPem(keys.privateKey), publicPem: await publicKeyPem(keys.publicKey) };
}
