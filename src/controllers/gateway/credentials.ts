// Gateway credentials (pure: values in, values out). In: a gateway workload's labels and namespace, the Gateways,
// and a Secret lookup confined to that namespace. Out: the credentials the workload needs — for every
// `credentialName` of a TLS server of a Gateway that selects it, flat keys `<X>.tls.crt`, `<X>.tls.key` and
// `<X>.ca.crt` (the layout the proxy's credentials directory reads) — plus what could not be found, and a hash.
//
// Istio's lookup rules: the Secret lives in the gateway WORKLOAD's namespace (never the Gateway's, never another);
// a kubernetes.io/tls Secret holds tls.crt/tls.key (ca.crt optional), a generic one cert/key (cacert optional);
// for MUTUAL the client CA comes from the same Secret or, failing that, from a Secret `<X>-cacert` (ca.crt or
// cacert). ISTIO_MUTUAL and PASSTHROUGH do not use credentialName.
import { createHash } from 'node:crypto';
import { list, record, selectorMatches, str, stringList, stringMap } from '../../model/kube.ts';
import type { Labels } from '../../model/types.ts';

export const CREDENTIALS_SECRET_PREFIX = 'weft-gateway-credentials-';
export const credentialsSecretName = (workload: string): string => `${CREDENTIALS_SECRET_PREFIX}${workload}`;
export const CACERT_SUFFIX = '-cacert';

/** A Secret as the lookup returns it: its data, base64 as the API has it. `unwatched`: the namespace is not read. */
export type SecretLookup = (name: string) => Readonly<Record<string, string>> | 'unwatched' | undefined;

/** A credential the workload needs, and whether it must carry a client CA (MUTUAL). */
export interface CredentialRef {
  name: string;
  mutual: boolean;
}

export interface CredentialProblem {
  /** The Secret named (`<X>` or, for a missing CA, `<X>-cacert`). */
  secret: string;
  message: string;
}

export interface Credentials {
  /** Secret data for `weft-gateway-credentials-<workload>`: base64 values by flat key. */
  data: Record<string, string>;
  problems: CredentialProblem[];
  /** Hex SHA-256 over the data (sorted keys); '' when there is none. */
  hash: string;
}

interface GatewayLike {
  metadata?: { name?: string; namespace?: string };
  spec?: unknown;
}

const TLS_MODES_WITH_CREDENTIALS = new Set(['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL']);
const MUTUAL_MODES = new Set(['MUTUAL', 'OPTIONAL_MUTUAL']);

/** The credential names of one server (SIMPLE when its TLS mode is unset). */
export function serverCredentialRefs(server: unknown): CredentialRef[] {
  const tls = record(record(server).tls);
  const mode = str(tls.mode) ?? 'SIMPLE';
  if (!TLS_MODES_WITH_CREDENTIALS.has(mode)) return [];
  const names = [...(str(tls.credentialName) ? [str(tls.credentialName)!] : []), ...stringList(tls.credentialNames)];
  return names.map((name) => ({ name, mutual: MUTUAL_MODES.has(mode) }));
}

/** The credential names of one Gateway's TLS servers. */
export function gatewayCredentialRefs(gateway: GatewayLike): CredentialRef[] {
  return list(record(gateway.spec).servers).flatMap(serverCredentialRefs);
}

/** Whether a Gateway's selector selects these pod labels (an empty selector selects every workload, as in Istio). */
export function gatewaySelects(gateway: GatewayLike, labels: Labels): boolean {
  return selectorMatches(stringMap(record(gateway.spec).selector), labels);
}

/** Every credential the Gateways selecting `labels` name, merged by name (MUTUAL wins), sorted. */
export function workloadCredentialRefs(labels: Labels, gateways: readonly GatewayLike[]): CredentialRef[] {
  const byName = new Map<string, boolean>();
  for (const g of gateways) {
    if (!gatewaySelects(g, labels)) continue;
    for (const r of gatewayCredentialRefs(g)) byName.set(r.name, (byName.get(r.name) ?? false) || r.mutual);
  }
  return [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, mutual]) => ({ name, mutual }));
}

const pick = (d: Readonly<Record<string, string>>, ...keys: string[]): string | undefined => {
  for (const k of keys) if (d[k]) return d[k];
  return undefined;
};

/**
 * One credential: its flat entries, or the problem that keeps it from being delivered. `namespace` only words
 * the messages.
 */
export function resolveCredential(
  ref: CredentialRef,
  lookup: SecretLookup,
  namespace: string,
): { entries: Record<string, string> } | { problem: CredentialProblem } {
  const secret = lookup(ref.name);
  if (secret === 'unwatched') {
    return { problem: { secret: ref.name, message: `credential Secret "${ref.name}" cannot be read: weft reads gateway credentials only in the namespaces it watches for them, not in "${namespace}"` } };
  }
  if (!secret) return { problem: { secret: ref.name, message: `credential Secret "${namespace}/${ref.name}" not found (it must be in the gateway workload's namespace)` } };
  const crt = pick(secret, 'tls.crt', 'cert');
  const key = pick(secret, 'tls.key', 'key');
  if (!crt || !key) {
    return { problem: { secret: ref.name, message: `credential Secret "${namespace}/${ref.name}" has no certificate and key (tls.crt/tls.key or cert/key)` } };
  }
  const entries: Record<string, string> = { [`${ref.name}.tls.crt`]: crt, [`${ref.name}.tls.key`]: key };
  let ca = pick(secret, 'ca.crt', 'cacert');
  if (!ca) {
    const separate = lookup(`${ref.name}${CACERT_SUFFIX}`);
    if (separate && separate !== 'unwatched') ca = pick(separate, 'ca.crt', 'cacert');
  }
  if (ca) entries[`${ref.name}.ca.crt`] = ca;
  else if (ref.mutual) {
    const name = `${ref.name}${CACERT_SUFFIX}`;
    return { problem: { secret: name, message: `no client CA for MUTUAL TLS: credential Secret "${namespace}/${ref.name}" has no ca.crt/cacert and Secret "${namespace}/${name}" not found` } };
  }
  return { entries };
}

/** All credentials of a gateway workload. */
export function buildCredentials(refs: readonly CredentialRef[], lookup: SecretLookup, namespace: string): Credentials {
  const data: Record<string, string> = {};
  const problems: CredentialProblem[] = [];
  for (const ref of refs) {
    const r = resolveCredential(ref, lookup, namespace);
    if ('problem' in r) problems.push(r.problem);
    else Object.assign(data, r.entries);
  }
  const keys = Object.keys(data).sort();
  const hash = keys.length === 0 ? '' : createHash('sha256').update(JSON.stringify(keys.map((k) => [k, data[k]]))).digest('hex');
  const sorted: Record<string, string> = {};
  for (const k of keys) sorted[k] = data[k]!;
  return { data: sorted, problems, hash };
}

/** The hash the gateway's pods are annotated with: the config's, and the credentials' when there are any. */
export function podHash(configHash: string, credentialsHash: string): string {
  if (credentialsHash === '') return configHash;
  return createHash('sha256').update(`${configHash}\n${credentialsHash}`).digest('hex');
}
