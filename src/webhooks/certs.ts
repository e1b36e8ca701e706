// Serving certificates for the admission webhook. In: the Service's name/namespace (and a clock) and the mesh CA;
// out: the trust bundle and a serving certificate chain/key as PEM, ECDSA P-256. The bundle goes into the webhook
// configuration's caBundle; the chain is served by server.ts. On a cluster the mesh CA issues it
// (`issueServingFromMeshCa`); a standalone self-signed CA (`generateWebhookCerts`) serves local runs and tests.
// Renewal reissues the leaf from the same CA so the caBundle never has to change in a hurry.
import { X509Certificate } from 'node:crypto';
import { createCa, issueLeaf, loadCa } from '../pki/certs.ts';
import type { Ca } from '../pki/certs.ts';
import { bundlePem, splitPem, type MeshCa } from '../pki/ca.ts';

export const WEBHOOK_NAMESPACE = 'weft-system';
export const WEBHOOK_SERVICE = 'weft-webhook';
export const WEBHOOK_CONFIGURATION = 'weft-validator';

const DAY_MS = 86_400_000;

export interface WebhookCerts {
  caPem: string;
  /** Only for a standalone CA; empty when the mesh CA issued the certificate (its key stays in its own Secret). */
  caKeyPem: string;
  certPem: string;
  keyPem: string;
}

export interface WebhookCertOptions {
  service?: string;
  namespace?: string;
  /** Extra DNS names and IPs; loopback names are always included so a local run can use the same cert. */
  dnsNames?: string[];
  ips?: string[];
  /** Serving certificate lifetime; default 365 days (the CA lives ten years). */
  validMs?: number;
  now?: Date;
}

/** Every name a client may use for the Service, from the short name to the cluster FQDN, plus localhost. */
export function webhookDnsNames(service = WEBHOOK_SERVICE, namespace = WEBHOOK_NAMESPACE): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, 'localhost'];
}

/** A fresh self-signed CA and a serving certificate it signed. */
export async function generateWebhookCerts(opts: WebhookCertOptions = {}): Promise<WebhookCerts> {
  const ca = await createCa('weft-webhook-ca', { now: opts.now ?? new Date(), organizations: ['weft'] });
  const leaf = await issueServing(ca, opts);
  return { caPem: ca.certPem, caKeyPem: ca.keyPem, certPem: leaf.certPem, keyPem: leaf.keyPem };
}

/** A new serving certificate from an existing CA (kept in the webhook's Secret). */
export async function renewServingCert(certs: WebhookCerts, opts: WebhookCertOptions = {}): Promise<WebhookCerts> {
  const leaf = await issueServing(await loadCa(certs.caPem, certs.caKeyPem), opts);
  return { ...certs, certPem: leaf.certPem, keyPem: leaf.keyPem };
}

/** A serving certificate from the mesh CA: the chain carries the intermediates, caPem is the trust bundle. */
export async function issueServingFromMeshCa(ca: MeshCa, opts: WebhookCertOptions = {}): Promise<WebhookCerts> {
  const leaf = await issueServing(ca.signer, opts);
  const certPem = [leaf.certPem, ...ca.intermediatesPem].map((p) => `${p.trim()}\n`).join('');
  return { caPem: bundlePem(ca), caKeyPem: '', certPem, keyPem: leaf.keyPem };
}

/** True when the leaf of `certPem` was signed by the mesh CA's current signer. */
export function issuedBy(certPem: string, ca: MeshCa): boolean {
  try {
    return new X509Certificate(certPem).verify(new X509Certificate(ca.signer.certPem).publicKey);
  } catch {
    return false;
  }
}

function issueServing(ca: Ca, opts: WebhookCertOptions) {
  const service = opts.service ?? WEBHOOK_SERVICE;
  const namespace = opts.namespace ?? WEBHOOK_NAMESPACE;
  return issueLeaf(ca, {
    commonName: `${service}.${namespace}.svc`,
    dnsNames: [...new Set([...webhookDnsNames(service, namespace), ...(opts.dnsNames ?? [])])],
    ips: [...new Set(['127.0.0.1', '::1', ...(opts.ips ?? [])])],
    server: true,
    validMs: opts.validMs ?? 365 * DAY_MS,
    now: opts.now ?? new Date(),
  });
}

/**
 * True when the serving certificate should be replaced: unparsable, not signed by the CA, missing a wanted
 * name, or past two thirds of its lifetime (renewing early leaves time for every replica to pick it up).
 */
export function needsRenewal(certs: WebhookCerts, wantDnsNames: readonly string[], now = new Date()): boolean {
  try {
    // The leaf's issuer: the next certificate of the served chain, or else one of the trusted roots.
    const [leafPem, ...chain] = splitPem(certs.certPem);
    const leaf = new X509Certificate(leafPem!);
    const issuers = chain.length > 0 ? chain.slice(0, 1) : splitPem(certs.caPem);
    if (!issuers.some((p) => leaf.verify(new X509Certificate(p).publicKey))) return true;
    const sans = (leaf.subjectAltName ?? '').split(', ');
    if (wantDnsNames.some((n) => !sans.includes(`DNS:${n}`))) return true;
    const from = Date.parse(leaf.validFrom);
    const to = Date.parse(leaf.validTo);
    return now.getTime() > from + ((to - from) * 2) / 3;
  } catch {
    return true;
  }
}
