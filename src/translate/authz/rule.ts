// One AuthorizationPolicy rule → one envoy.config.rbac.v3.Policy, with Istio's model: every `from` entry becomes a
// principal and every `to` entry a permission (the `when` conditions joined to each, by whether the attribute
// belongs to the peer or to the request target), each an AND of the fields set, each field an OR of its values and
// a NOT(OR) of its not-values. A rule without `from`/`to` has one principal/permission of its conditions alone
// (`any` when empty).
//
// Values that cannot be carried out — HTTP-only fields on a TCP chain, a bad CIDR or port — follow Istio:
// in an ALLOW policy the whole rule is left out (it never matches, so it never lets more in); in DENY, AUDIT and
// CUSTOM the value alone is dropped (the rule gets wider, so it denies more). A `when` key Istio does not know
// leaves the rule out whatever the action.
import type { AuthorizationPolicySpec } from '../../api/authorizationpolicy.ts';
import { list, record, str, stringList } from '../../model/kube.ts';
import { checkRegex } from '../../validate/common.ts';
import type { EnvoyObject } from '../types.ts';
import {
  AUTHN_FILTER, SPIFFE_PREFIX, cidr, headerMatcher, hostMatcher, isPathTemplate, metadataList, metadataString, pathTemplate,
  port, regexMatcher, stringMatcher,
} from './matchers.ts';

export type Rule = NonNullable<AuthorizationPolicySpec['rules']>[number];
export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

/** Why a value gave no matcher. */
class Unusable {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}
type Out = EnvoyObject | Unusable;

/** Turns one value of an attribute into a permission or principal. */
type Gen = (value: string, forTCP: boolean) => Out;

interface Entry {
  key: string;
  values: readonly string[];
  notValues: readonly string[];
  gen: Gen;
}

const httpOnly = (key: string): Unusable => new Unusable(`${key} is HTTP only`);
const orInvalid = (o: EnvoyObject | undefined, what: string): Out => o ?? new Unusable(`invalid ${what}`);

// Permissions (the request's target).
const destIp: Gen = (v) => { const c = cidr(v); return c ? { destinationIp: c } : new Unusable(`invalid destination.ip ${v}`); };
const destPort: Gen = (v) => {
  const p = port(v);
  if (p === undefined) return new Unusable(`invalid port ${v}`);
  // A zero port is not written on the wire: the one-port range [0, 1) says the same.
  return p === 0 ? { destinationPortRange: { end: 1 } } : { destinationPort: p };
};
const sni: Gen = (v) => ({ requestedServerName: stringMatcher(v) });
const host: Gen = (v, tcp) => (tcp ? httpOnly('hosts') : { header: hostMatcher(':authority', v) });
const method: Gen = (v, tcp) => (tcp ? httpOnly('methods') : { header: headerMatcher(':method', v) });
const path: Gen = (v, tcp) => {
  if (tcp) return httpOnly('paths');
  return isPathTemplate(v) ? { uriTemplate: pathTemplate(v) } : { urlPath: { path: stringMatcher(v) } };
};

// Principals (the peer and the request's credentials).
/** A peer identity matcher; one whose regex RE2 cannot compile (a value with regex syntax in it) is unusable. */
const authenticated = (m: EnvoyObject): Out => {
  const regex = (m.safeRegex as { regex?: string } | undefined)?.regex;
  if (regex !== undefined && checkRegex(regex) !== undefined) return new Unusable(`invalid regex ${regex}`);
  return { authenticated: { principalName: m } };
};
const srcIp: Gen = (v) => orInvalid(cidr(v) && { directRemoteIp: cidr(v) }, `source.ip ${v}`);
const remoteIp: Gen = (v) => orInvalid(cidr(v) && { remoteIp: cidr(v) }, `remote.ip ${v}`);
const srcNamespace: Gen = (v) => authenticated(regexMatcher(`.*/ns/${v.replaceAll('*', '.*')}/.*`));
const srcPrincipal: Gen = (v) => authenticated(stringMatcher(v, SPIFFE_PREFIX));
const escapeRegex = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
const srcTrustDomain: Gen = (v) => (v === '*'
  ? authenticated(regexMatcher(`${SPIFFE_PREFIX}.+`))
  : authenticated(regexMatcher(`${SPIFFE_PREFIX}${v.split('*').map(escapeRegex).join('.*')}/.*`)));
const serviceAccount = (policyNamespace: string): Gen => (v) => {
  const i = v.indexOf('/');
  const [ns, sa] = i < 0 ? [policyNamespace, v] : [v.slice(0, i), v.slice(i + 1)];
  return authenticated(regexMatcher(`spiffe://.+/ns/${ns}/(.+/|)sa/${sa}(/.+)?`));
};
const authnString = (key: string): Gen => (v, tcp) => (tcp ? httpOnly(key) : { metadata: metadataString(AUTHN_FILTER, key, stringMatcher(v)) });
const authnList = (keys: readonly string[], label: string): Gen => (v, tcp) => (tcp ? httpOnly(label) : { metadata: metadataList(AUTHN_FILTER, keys, stringMatcher(v)) });

/** `[name]` → name; undefined when the brackets are missing. */
function inBrackets(s: string): string | undefined {
  return s.length > 2 && s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : undefined;
}

/** `[a][b]` (or `[a.b]` read as one name, as Istio does) → ['a', 'b']. */
function nestedNames(s: string): string[] | undefined {
  const m = /^(\[[^[\]]+\])+$/.exec(s);
  if (!m) return undefined;
  return [...s.matchAll(/\[([^[\]]+)\]/g)].map((x) => x[1]!);
}

const requestHeader = (key: string): Gen => {
  const name = inBrackets(key.slice('request.headers'.length));
  return (v, tcp) => {
    if (tcp) return httpOnly(key);
    return name === undefined ? new Unusable(`invalid ${key}`) : { header: headerMatcher(name, v) };
  };
};

const requestClaim = (key: string): Gen => {
  const names = nestedNames(key.slice('request.auth.claims'.length));
  const g = names ? authnList(['request.auth.claims', ...names], key) : undefined;
  return (v, tcp) => {
    if (tcp) return httpOnly(key);
    return g ? g(v, tcp) : new Unusable(`invalid ${key}`);
  };
};

/** `experimental.envoy.filters.a.b[c]`: Envoy dynamic metadata `envoy.filters.a.b` key `c`; a `[v]` value matches a
 * list element. */
const envoyFilter = (key: string): Gen => {
  const m = /^experimental\.(envoy\.filters\..+)\[([^[\]]+)\]$/.exec(key);
  return (v) => {
    if (!m) return new Unusable(`invalid ${key}`);
    const [, filter, k] = m as unknown as [string, string, string];
    if (v.length > 2 && v.startsWith('[') && v.endsWith(']')) return { metadata: metadataList(filter, [k], stringMatcher(v.slice(1, -1))) };
    return { metadata: metadataString(filter, k, stringMatcher(v)) };
  };
};

type Side = 'permission' | 'principal';

/** A `when` key → which side it belongs to and its generator; undefined for a key Istio does not know. */
function condition(key: string, policyNamespace: string): { side: Side; gen: Gen } | undefined {
  switch (key) {
    case 'destination.ip': return { side: 'permission', gen: destIp };
    case 'destination.port': return { side: 'permission', gen: destPort };
    case 'connection.sni': return { side: 'permission', gen: sni };
    case 'source.ip': return { side: 'principal', gen: srcIp };
    case 'remote.ip': return { side: 'principal', gen: remoteIp };
    case 'source.namespace': return { side: 'principal', gen: srcNamespace };
    case 'source.serviceAccount': return { side: 'principal', gen: serviceAccount(policyNamespace) };
    case 'source.principal': return { side: 'principal', gen: srcPrincipal };
    case 'source.trustDomain': return { side: 'principal', gen: srcTrustDomain };
    case 'request.auth.principal': return { side: 'principal', gen: authnString('request.auth.principal') };
    case 'request.auth.audiences': return { side: 'principal', gen: authnList(['request.auth.audiences'], key) };
    case 'request.auth.presenter': return { side: 'principal', gen: authnString('request.auth.presenter') };
  }
  if (key.startsWith('request.headers')) return { side: 'principal', gen: requestHeader(key) };
  if (key.startsWith('request.auth.claims')) return { side: 'principal', gen: requestClaim(key) };
  if (key.startsWith('experimental.envoy.filters.')) return { side: 'permission', gen: envoyFilter(key) };
  return undefined;
}

const entry = (key: string, values: unknown, notValues: unknown, gen: Gen): Entry[] => {
  const v = stringList(values);
  const n = stringList(notValues);
  return v.length === 0 && n.length === 0 ? [] : [{ key, values: v, notValues: n, gen }];
};

/** The entries of a rule: per principal and per permission, in Istio's order. Undefined: an unknown `when` key. */
function model(rule: Rule, policyNamespace: string): { principals: Entry[][]; permissions: Entry[][] } | undefined {
  const basePrincipal: Entry[] = [];
  const basePermission: Entry[] = [];
  for (const w of list(rule.when)) {
    const c = record(w);
    const key = str(c.key) ?? '';
    const cond = condition(key, policyNamespace);
    if (!cond) return undefined;
    (cond.side === 'principal' ? basePrincipal : basePermission).push(...entry(key, c.values, c.notValues, cond.gen));
  }
  const from = list(rule.from);
  const principals = from.length === 0 ? [basePrincipal] : from.map((f) => {
    const s = record(record(f).source);
    return [
      ...entry('source.principal', s.principals, s.notPrincipals, srcPrincipal),
      ...entry('source.trustDomain', s.trustDomains, s.notTrustDomains, srcTrustDomain),
      ...entry('request.auth.principal', s.requestPrincipals, s.notRequestPrincipals, authnString('request.auth.principal')),
      ...entry('source.serviceAccount', s.serviceAccounts, s.notServiceAccounts, serviceAccount(policyNamespace)),
      ...entry('source.namespace', s.namespaces, s.notNamespaces, srcNamespace),
      ...entry('remote.ip', s.remoteIpBlocks, s.notRemoteIpBlocks, remoteIp),
      ...entry('source.ip', s.ipBlocks, s.notIpBlocks, srcIp),
      ...basePrincipal,
    ];
  });
  const to = list(rule.to);
  const permissions = to.length === 0 ? [basePermission] : to.map((t) => {
    const o = record(record(t).operation);
    return [
      ...entry('hosts', o.hosts, o.notHosts, host),
      ...entry('methods', o.methods, o.notMethods, method),
      ...entry('paths', o.paths, o.notPaths, path),
      ...entry('ports', o.ports, o.notPorts, destPort),
      ...basePermission,
    ];
  });
  return { principals, permissions };
}

/** Thrown (internally) when an ALLOW rule must be left out. */
class Skip extends Error {}

function generate(entries: readonly Entry[], side: Side, forTCP: boolean, action: RbacAction): EnvoyObject {
  const or = (xs: EnvoyObject[]) => (side === 'permission' ? { orRules: { rules: xs } } : { orIds: { ids: xs } });
  const not = (x: EnvoyObject) => (side === 'permission' ? { notRule: x } : { notId: x });
  const collect = (e: Entry, values: readonly string[]): EnvoyObject[] => {
    const out: EnvoyObject[] = [];
    for (const v of values) {
      const g = e.gen(v, forTCP);
      if (!(g instanceof Unusable)) out.push(g);
      else if (action === 'ALLOW') throw new Skip(g.reason);
    }
    return out;
  };
  const and: EnvoyObject[] = [];
  for (const e of entries) {
    const yes = collect(e, e.values);
    if (yes.length > 0) and.push(or(yes));
    const no = collect(e, e.notValues);
    if (no.length > 0) and.push(not(or(no)));
  }
  if (and.length === 0) and.push({ any: true });
  return side === 'permission' ? { andRules: { rules: and } } : { andIds: { ids: and } };
}

/**
 * The RBAC policy of one rule; undefined when the rule is left out (an unknown condition, or an ALLOW rule with a
 * value that cannot be carried out on this chain). `forTCP`: for a network (TCP) RBAC filter.
 */
export function rulePolicy(rule: Rule | null | undefined, policyNamespace: string, forTCP: boolean, action: RbacAction): EnvoyObject | undefined {
  if (rule === null || rule === undefined || typeof rule !== 'object') return undefined;
  const m = model(rule, policyNamespace);
  if (!m) return undefined;
  try {
    return {
      permissions: m.permissions.map((p) => generate(p, 'permission', forTCP, action)),
      principals: m.principals.map((p) => generate(p, 'principal', forTCP, action)),
    };
  } catch (e) {
    if (e instanceof Skip) return undefined;
    throw e;
  }
}

/** Istio's policy for an ALLOW policy without rules: matches nothing. */
export const MATCH_NEVER: EnvoyObject = {
  permissions: [{ notRule: { any: true } }],
  principals: [{ notId: { any: true } }],
};
