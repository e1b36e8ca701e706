// Which key sets the RequestAuthentications need fetched (pure: values in, values out).
// In: RequestAuthentication objects. Out: each jwksUri (or its older spelling jwks_uri) of a jwtRule without
// inline `jwks`, with the longest fetch timeout its rules ask for and the keys of the RequestAuthentications
// using it (whose status and workloads follow its keys).
import { parseDurationMs } from './duration.ts';

export interface JwksUse {
  /** Fetch timeout in ms (the longest any rule asks for), or undefined for the default. */
  timeoutMs?: number;
  /** `RequestAuthentication/<ns>/<name>`, sorted. */
  users: string[];
}

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

/** The URI a jwtRule needs fetched, if any. */
export function ruleJwksUri(rule: unknown): string | undefined {
  const r = rec(rule);
  if (typeof r.jwks === 'string' && r.jwks !== '') return undefined;
  const uri = typeof r.jwksUri === 'string' && r.jwksUri !== '' ? r.jwksUri : r.jwks_uri;
  return typeof uri === 'string' && uri !== '' ? uri : undefined;
}

export function jwksUses(ras: Iterable<{ metadata?: { name?: string; namespace?: string }; spec?: unknown }>): Map<string, JwksUse> {
  const out = new Map<string, JwksUse>();
  for (const ra of ras) {
    const key = `RequestAuthentication/${ra.metadata?.namespace ?? ''}/${ra.metadata?.name ?? ''}`;
    const rules = rec(ra.spec).jwtRules;
    for (const rule of Array.isArray(rules) ? rules : []) {
      const uri = ruleJwksUri(rule);
      if (!uri) continue;
      let u = out.get(uri);
      if (!u) out.set(uri, (u = { users: [] }));
      if (!u.users.includes(key)) u.users.push(key);
      const t = typeof rec(rule).timeout === 'string' ? parseDurationMs(rec(rule).timeout as string) : undefined;
      if (t !== undefined && (u.timeoutMs === undefined || t > u.timeoutMs)) u.timeoutMs = t;
    }
  }
  for (const u of out.values()) u.users.sort();
  return out;
}
