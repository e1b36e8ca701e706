// Which key sets the RequestAuthentications need fetched (pure: values in, values out).
// In: RequestAuthentication objects. Out: each jwksUri (or its older spelling jwks_uri) of a jwtRule without
// inline `jwks` — or, for a rule with neither, its issuer, whose keys are discovered (OpenID Connect) and filed
// under the issuer — with the longest fetch timeout its rules ask for and the keys of the RequestAuthentications
// using it (whose status and workloads follow its keys).
import { selectorMatches, stringMap } from '../../model/kube.ts';
import type { Labels } from '../../model/types.ts';
import { parseDurationMs } from './duration.ts';

export interface JwksUse {
  /** Fetch timeout in ms (the longest any rule asks for), or undefined for the default. */
  timeoutMs?: number;
  /** The key is an issuer whose key set is found through OpenID Connect discovery. */
  discover?: boolean;
  /** `RequestAuthentication/<ns>/<name>`, sorted. */
  users: string[];
}

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

/** The URI a jwtRule needs fetched, if any. */
export function ruleJwksUri(rule: unknown): string | undefined {
  return ruleJwksSource(rule)?.key;
}

/** Where a jwtRule's keys come from when not inline: its jwksUri, or its issuer (discovery). */
export function ruleJwksSource(rule: unknown): { key: string; discover: boolean } | undefined {
  const r = rec(rule);
  if (typeof r.jwks === 'string' && r.jwks !== '') return undefined;
  const uri = typeof r.jwksUri === 'string' && r.jwksUri !== '' ? r.jwksUri : r.jwks_uri;
  if (typeof uri === 'string' && uri !== '') return { key: uri, discover: false };
  return typeof r.issuer === 'string' && r.issuer !== '' ? { key: r.issuer, discover: true } : undefined;
}

export function jwksUses(ras: Iterable<{ metadata?: { name?: string; namespace?: string }; spec?: unknown }>): Map<string, JwksUse> {
  const out = new Map<string, JwksUse>();
  for (const ra of ras) {
    const key = `RequestAuthentication/${ra.metadata?.namespace ?? ''}/${ra.metadata?.name ?? ''}`;
    const rules = rec(ra.spec).jwtRules;
    for (const rule of Array.isArray(rules) ? rules : []) {
      const src = ruleJwksSource(rule);
      if (!src) continue;
      const uri = src.key;
      let u = out.get(uri);
      if (!u) out.set(uri, (u = { users: [], ...(src.discover ? { discover: true } : {}) }));
      if (!u.users.includes(key)) u.users.push(key);
      const t = typeof rec(rule).timeout === 'string' ? parseDurationMs(rec(rule).timeout as string) : undefined;
      if (t !== undefined && (u.timeoutMs === undefined || t > u.timeoutMs)) u.timeoutMs = t;
    }
  }
  for (const u of out.values()) u.users.sort();
  return out;
}

/**
 * Whether a RequestAuthentication selects some workload (a pod or WorkloadEntry with these labels): in its own
 * namespace, or anywhere from the root namespace; targetRefs attach it to nothing weft runs. Keys are fetched
 * only for such policies: nobody needs the others' keys, and the operator should not call every URI that some
 * object names.
 */
export function selectsAWorkload(
  ra: { metadata?: { namespace?: string }; spec?: unknown },
  rootNamespace: string,
  workloadLabels: (namespace: string | undefined) => Iterable<Labels>,
): boolean {
  const spec = rec(ra.spec);
  if ((spec.targetRef !== undefined && spec.targetRef !== null) || (Array.isArray(spec.targetRefs) && spec.targetRefs.length > 0)) return false;
  const ns = ra.metadata?.namespace ?? '';
  const selector = stringMap(rec(spec.selector).matchLabels);
  for (const labels of workloadLabels(ns === rootNamespace ? undefined : ns)) if (selectorMatches(selector, labels)) return true;
  return false;
}
