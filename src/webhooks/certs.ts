// Serving certificates for the admission webhook. In: the Service's name/namespace (and a clock); out: a CA and a
// serving certificate/key as PEM, ECDSA P-256. The CA goes into the webhook configuration's caBundle; the leaf is
// served by server.ts. Renewal reissues the leaf from the same CA so the caBundle never has to change in a hurry.
import { X509Certificate } from 'node:crypto';
import { createCa, issueLeaf, loadCa } from '../pki/certs.ts';
import type { Ca } from '../pki/certs.ts';

export const WEBHOOK_NAMESPACE = 'weft-system';
export const WEBHOOK_SERVICE = 'weft-webhook';
export const WEBHOOK_CONFIGURATION = 'weft-validator';

const DAY_MS = 86_400_000;

export interface WebhookCerts {
  caPem: string;
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
    const leaf = new X509Certificate(certs.certPem);
    const ca = new X509Certificate(certs.caPem);
    if (!leaf.verify(ca.publicKey)) return true;
    const sans = (leaf.subjectAltName ?? '').split(', ');
    if (wantDnsNames.some((n) => !sans.includes(`DNS:${n}`))) return true;
    const from = Date.parse(leaf.validFrom);
    const to = Date.parse(leaf.validTo);
    return now.getTime() > from + ((to - from) * 2) / 3;
  } catch {
    return true;
  }
}
