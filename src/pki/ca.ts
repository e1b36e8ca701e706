// The mesh CA. In: a KubeConfig (or the PEM of a plug-in CA) and a clock. Out: a `MeshCa` — the signer that
// issues workload certificates, the intermediates between it and the root, and the trust bundle of roots.
// Either a plug-in CA from Secret `cacerts` (`ca-cert.pem`, `ca-key.pem`, `root-cert.pem`, `cert-chain.pem`, the
// layout Istio accepts), which wins when present, or a self-signed root (ECDSA P-256, ten years) created on first
// start and kept in Secret `weft-ca`. A self-signed root is rotated before it expires; the bundle keeps the old
// root until it expires so certificates it issued stay trusted during the overlap. The CA key lives in the
// Secret and in memory only: nothing here logs or returns it except to the signing code.
import { X509Certificate } from 'node:crypto';
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { createCa, loadCa, type Ca } from './certs.ts';

export const CA_NAMESPACE = 'weft-system';
export const CA_SECRET = 'weft-ca';
export const PLUGIN_CA_SECRET = 'cacerts';
export const ROOT_VALID_MS = 3650 * 86_400_000;
/** A self-signed root is replaced once this share of its lifetime has passed. */
export const ROOT_ROTATE_AT = 0.8;

export const CA_CERT = 'ca-cert.pem';
export const CA_KEY = 'ca-key.pem';
export const ROOT_CERT = 'root-cert.pem';
export const CERT_CHAIN = 'cert-chain.pem';

export interface MeshCa {
  source: 'self-signed' | 'plug-in';
  signer: Ca;
  /** Certificates between the signer and the root, signer first; empty when the signer is the root. */
  intermediatesPem: string[];
  /** Every root workloads accept, the current one first. */
  rootsPem: string[];
}

/** The trust bundle as one PEM file. */
export function bundlePem(ca: MeshCa): string {
  return joinPem(ca.rootsPem);
}

/** Certificates as one PEM file, each block ending in exactly one newline. */
export function joinPem(pems: readonly string[]): string {
  return pems.map(normalize).join('');
}

export function splitPem(text: string): string[] {
  return (text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map(normalize);
}

function normalize(pem: string): string {
  return `${pem.trim()}\n`;
}

const selfSigned = (c: X509Certificate): boolean => c.subject === c.issuer && c.verify(c.publicKey);

/** A new self-signed root; `previous` roots stay in the bundle until they expire. */
export async function createRootCa(opts: { now?: Date; previous?: string[]; validMs?: number } = {}): Promise<MeshCa> {
  const now = opts.now ?? new Date();
  const signer = await createCa('weft root CA', { now, validMs: opts.validMs ?? ROOT_VALID_MS, organizations: ['weft'] });
  const older = (opts.previous ?? []).filter((p) => Date.parse(new X509Certificate(p).validTo) > now.getTime());
  return { source: 'self-signed', signer, intermediatesPem: [], rootsPem: [normalize(signer.certPem), ...older.map(normalize)] };
}

export function rootNeedsRotation(ca: MeshCa, now: Date): boolean {
  if (ca.source !== 'self-signed') return false; // a plug-in CA is rotated by whoever plugs it in
  const c = new X509Certificate(ca.signer.certPem);
  const from = Date.parse(c.validFrom);
  return now.getTime() >= from + (Date.parse(c.validTo) - from) * ROOT_ROTATE_AT;
}

export type CaFiles = Partial<Record<typeof CA_CERT | typeof CA_KEY | typeof ROOT_CERT | typeof CERT_CHAIN, string>>;

/**
 * A plug-in CA. `cert-chain.pem` runs from the signing certificate towards the root (it may or may not include
 * the signer and the root: both are dropped, the signer goes first and roots live in the bundle). The signer must
 * be a CA, match its key and chain up to a root of `root-cert.pem`.
 */
export async function caFromFiles(files: CaFiles, source: MeshCa['source'] = 'plug-in'): Promise<MeshCa> {
  const missing = [CA_CERT, CA_KEY, ROOT_CERT].filter((k) => !files[k as keyof CaFiles]);
  if (missing.length) throw new Error(`CA files lack ${missing.join(', ')}`);
  const signer = await loadCa(files[CA_CERT]!, files[CA_KEY]!);
  const signerCert = new X509Certificate(files[CA_CERT]!);
  if (!signerCert.ca) throw new Error(`${CA_CERT} is not a CA certificate`);
  const roots = splitPem(files[ROOT_CERT]!);
  if (roots.length === 0) throw new Error(`${ROOT_CERT} holds no certificate`);
  const intermediates = splitPem(files[CERT_CHAIN] ?? '').filter((p) => {
    const c = new X509Certificate(p);
    return !selfSigned(c) && c.fingerprint256 !== signerCert.fingerprint256;
  });
  const chain = [signerCert, ...intermediates.map((p) => new X509Certificate(p))];
  const top = chain[chain.length - 1]!;
  const rootCerts = roots.map((p) => new X509Certificate(p));
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!) || !chain[i]!.verify(chain[i + 1]!.publicKey)) throw new Error(`${CERT_CHAIN} is not a chain from ${CA_CERT}`);
  }
  if (!rootCerts.some((r) => top.checkIssued(r) && top.verify(r.publicKey))) throw new Error(`${CA_CERT} does not chain up to ${ROOT_CERT}`);
  const intermediatesPem = selfSigned(signerCert) ? [] : [normalize(files[CA_CERT]!), ...intermediates];
  return { source, signer, intermediatesPem, rootsPem: roots };
}

const unb64 = (s: string | undefined): string | undefined => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

function filesOf(s: V1Secret): CaFiles {
  const d = s.data ?? {};
  return { [CA_CERT]: unb64(d[CA_CERT]), [CA_KEY]: unb64(d[CA_KEY]), [ROOT_CERT]: unb64(d[ROOT_CERT]), [CERT_CHAIN]: unb64(d[CERT_CHAIN]) };
}

function caSecret(ca: MeshCa, namespace: string, resourceVersion?: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: CA_SECRET, namespace, resourceVersion, labels: { 'app.kubernetes.io/part-of': 'weft', 'app.kubernetes.io/component': 'ca' } },
    type: 'Opaque',
    data: {
      [CA_CERT]: b64(ca.signer.certPem),
      [CA_KEY]: b64(ca.signer.keyPem),
      [ROOT_CERT]: b64(bundlePem(ca)),
      [CERT_CHAIN]: b64(normalize(ca.signer.certPem)),
    },
  };
}

const code = (e: unknown): number | undefined => (e as { code?: number }).code;

async function readSecret(core: CoreV1Api, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ namespace, name });
  } catch (e) {
    if (code(e) === 404) return undefined;
    throw e;
  }
}

export interface LoadCaOptions {
  namespace?: string;
  now?: Date;
}

/**
 * The mesh CA of a cluster: the plug-in CA when Secret `cacerts` exists, else the self-signed root of Secret
 * `weft-ca`, created (or rotated) here when needed. Replicas racing here converge on the winner's Secret.
 */
export async function loadOrCreateMeshCa(kc: KubeConfig, opts: LoadCaOptions = {}): Promise<MeshCa> {
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = opts.namespace ?? CA_NAMESPACE;
  const now = opts.now ?? new Date();
  const plugged = await readSecret(core, namespace, PLUGIN_CA_SECRET);
  if (plugged) return caFromFiles(filesOf(plugged), 'plug-in');
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await readSecret(core, namespace, CA_SECRET);
    try {
      if (!current) {
        const fresh = await createRootCa({ now });
        await core.createNamespacedSecret({ namespace, body: caSecret(fresh, namespace) });
        return fresh;
      }
      const files = filesOf(current);
      const ca = await caFromFiles(files, 'self-signed');
      if (!rootNeedsRotation(ca, now)) return ca;
      const rotated = await createRootCa({ now, previous: ca.rootsPem });
      await core.replaceNamespacedSecret({ namespace, name: CA_SECRET, body: caSecret(rotated, namespace, current.metadata?.resourceVersion) });
      return rotated;
    } catch (e) {
      if (code(e) !== 409) throw e; // another replica wrote first: read its version
    }
  }
  throw new Error(`could not settle Secret ${namespace}/${CA_SECRET} after repeated conflicts`);
}
