// Workload certificates. In: the mesh CA, a SPIFFE id and a clock. Out: the files a sidecar mounts — `key.pem`
// (ECDSA P-256), `cert-chain.pem` (leaf, then intermediates), `root-cert.pem` (the trust bundle) — and when the
// certificate should be renewed: halfway through its lifetime, spread by a little jitter from an injected rng so a
// mesh issued at once does not renew at once, and never after it expires.
import { X509Certificate } from 'node:crypto';
import { issueLeaf } from './certs.ts';
import { bundlePem, joinPem, type MeshCa } from './ca.ts';
import { formatSpiffeId, parseSpiffeId, type SpiffeId } from './spiffe.ts';

export const WORKLOAD_CERT_TTL_MS = 24 * 3_600_000;
export const RENEW_AT = 0.5;
/** ± this share of the lifetime around RENEW_AT. */
export const RENEW_JITTER = 0.05;

export const KEY_FILE = 'key.pem';
export const CHAIN_FILE = 'cert-chain.pem';
export const ROOT_FILE = 'root-cert.pem';

export interface WorkloadCert {
  id: SpiffeId;
  keyPem: string;
  /** Leaf first, then the intermediates up to (not including) the root. */
  certChainPem: string;
  rootCertPem: string;
  notBefore: Date;
  notAfter: Date;
}

export interface IssueOptions {
  now?: Date;
  ttlMs?: number;
}

export async function issueWorkloadCert(ca: MeshCa, id: SpiffeId, opts: IssueOptions = {}): Promise<WorkloadCert> {
  const now = opts.now ?? new Date();
  // A leaf never outlives its issuer: verification would fail past the CA's notAfter anyway.
  const caEnd = ca.signer.cert.notAfter.getTime();
  const validMs = Math.max(60_000, Math.min(opts.ttlMs ?? WORKLOAD_CERT_TTL_MS, caEnd - now.getTime()));
  const leaf = await issueLeaf(ca.signer, {
    commonName: '',
    emptySubject: true,
    uris: [formatSpiffeId(id)],
    server: true,
    client: true,
    validMs,
    now,
  });
  return {
    id,
    keyPem: leaf.keyPem,
    certChainPem: joinPem([leaf.certPem, ...ca.intermediatesPem]),
    rootCertPem: bundlePem(ca),
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
  };
}

/** When to renew: notBefore + lifetime × (50 % ± 5 %), drawn with `rng` (in [0, 1)); always before notAfter. */
export function renewalDue(cert: { notBefore: Date; notAfter: Date }, rng: () => number = Math.random): Date {
  const from = cert.notBefore.getTime();
  const life = cert.notAfter.getTime() - from;
  const share = RENEW_AT + (rng() * 2 - 1) * RENEW_JITTER;
  const due = from + life * Math.min(Math.max(share, 0), 1);
  return new Date(Math.min(due, cert.notAfter.getTime() - 1));
}

/** What a stored certificate says about itself; undefined when it cannot be parsed. */
export function inspectChain(certChainPem: string): { id?: SpiffeId; notBefore: Date; notAfter: Date; leaf: X509Certificate } | undefined {
  try {
    const leaf = new X509Certificate(certChainPem);
    const uri = /URI:(spiffe:\/\/[^,\s]+)/.exec(leaf.subjectAltName ?? '')?.[1];
    let id: SpiffeId | undefined;
    try {
      id = uri ? parseSpiffeId(uri) : undefined;
    } catch {
      id = undefined;
    }
    return { id, notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo), leaf };
  } catch {
    return undefined;
  }
}
