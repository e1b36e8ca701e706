// SPIFFE identities of workloads: `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`.
// In: a trust domain, namespace and service account, or a URI. Out: the other of the two; parse and format
// round-trip exactly, and anything that would not (other paths, bad names) is refused rather than guessed at.

export interface SpiffeId {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

// Trust domains as the SPIFFE spec allows them (lower case letters, digits, dots, dashes, underscores);
// namespaces and service accounts as Kubernetes names them (DNS subdomain characters).
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const K8S_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): SpiffeId {
  if (!TRUST_DOMAIN.test(trustDomain)) throw new Error(`invalid SPIFFE trust domain ${JSON.stringify(trustDomain)}`);
  if (!K8S_NAME.test(namespace)) throw new Error(`invalid namespace ${JSON.stringify(namespace)} for a SPIFFE id`);
  if (!K8S_NAME.test(serviceAccount)) throw new Error(`invalid service account ${JSON.stringify(serviceAccount)} for a SPIFFE id`);
  return { trustDomain, namespace, serviceAccount };
}

export function formatSpiffeId(id: SpiffeId): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

export function parseSpiffeId(uri: string): SpiffeId {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (!m) throw new Error(`not a workload SPIFFE id (spiffe://<trust domain>/ns/<ns>/sa/<sa>): ${JSON.stringify(uri)}`);
  return spiffeId(m[1]!, m[2]!, m[3]!);
}

export function sameSpiffeId(a: SpiffeId, b: SpiffeId): boolean {
  return a.trustDomain === b.trustDomain && a.namespace === b.namespace && a.serviceAccount === b.serviceAccount;
}
