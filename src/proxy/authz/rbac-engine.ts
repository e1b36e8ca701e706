// envoy.config.rbac.v3.RBAC → an engine, compiled once per config object: `evaluate(attributes)` says whether
// the connection or request is allowed and which policy decided. Envoy's semantics: a policy matches when any of
// its permissions and any of its principals match; policies are tried in name order (Envoy keeps them in an
// ordered map) and the first match is the effective policy. ALLOW: allowed iff a policy matches; DENY: allowed
// iff none matches; LOG: always allowed, `logged` when one matches. Rules weft cannot evaluate (CEL conditions,
// extension matchers, filter state, URI templates) never match and are listed in `unsupported`.
import { arr, has, isObj, num, obj } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import { compileHeaderMatcher } from '../routing/header-matcher.ts';
import { makeHttpRequest, pathOnly } from '../routing/request.ts';
import { compileStringMatcher } from '../routing/string-matcher.ts';
import type { AuthzAttributes } from './attributes.ts';
import { compileCidr } from './cidr.ts';
import { compileMetadataMatcher } from './metadata.ts';
import { pathIndex, plainStringMatch, policyPathNeed } from './rbac-path-index.ts';

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

export interface RbacResult {
  allowed: boolean;
  /** The first policy (by name) that matched. */
  policy?: string;
  /** LOG engines: a policy matched (the request should be logged). */
  logged?: boolean;
}

export interface RbacEngine {
  readonly action: RbacAction;
  /** Policy names in evaluation order. */
  readonly policies: readonly string[];
  /** Rule kinds present in the config that weft does not evaluate (they never match). */
  readonly unsupported: readonly string[];
  evaluate(a: AuthzAttributes): RbacResult;
}

type Matcher = (a: AuthzAttributes) => boolean;

const ACTIONS: readonly RbacAction[] = ['ALLOW', 'DENY', 'LOG'];
const NEVER: Matcher = () => false;
const ALWAYS: Matcher = () => true;
// Network RBAC has no request: header rules see an empty header map, as in Envoy.
const NO_REQUEST = makeHttpRequest({ method: '', path: '' });

export function rbacAction(v: unknown): RbacAction {
  if (typeof v === 'number') return ACTIONS[v] ?? 'ALLOW';
  return ACTIONS.includes(v as RbacAction) ? v as RbacAction : 'ALLOW';
}

/** The method a HeaderMatcher `{name: ":method", stringMatch: {exact}}` (nothing else set) asks for. */
function exactMethod(m: unknown): string | undefined {
  if (!isObj(m) || m.name !== ':method') return undefined;
  for (const k of Object.keys(m)) {
    if (k === 'name' || k === 'stringMatch') continue;
    if ((k === 'invertMatch' || k === 'treatMissingHeaderAsEmpty') && m[k] === false) continue;
    return undefined;
  }
  const plain = plainStringMatch(m.stringMatch);
  return plain?.kind === 'exact' ? plain.value : undefined;
}

/** Matchers made for an exact `:method`, so an orRules of them becomes one set lookup. */
const exactMethods = new WeakMap<Matcher, string>();

function methodSet(list: readonly Matcher[]): Set<string> | undefined {
  const out = new Set<string>();
  for (const m of list) {
    const method = exactMethods.get(m);
    if (method === undefined) return undefined;
    out.add(method);
  }
  return out;
}

class Compiler {
  readonly unsupported = new Set<string>();

  // Plain loops (no per-call closure): a request walks every rule of every policy that does not match.
  private all(list: Matcher[]): Matcher {
    if (list.length === 0) return ALWAYS;
    if (list.length === 1) return list[0]!;
    if (list.length === 2) {
      const [x, y] = list as [Matcher, Matcher];
      return (a) => x(a) && y(a);
    }
    return (a) => {
      for (let i = 0; i < list.length; i++) if (!list[i]!(a)) return false;
      return true;
    };
  }

  private any(list: Matcher[]): Matcher {
    if (list.length === 0) return NEVER;
    if (list.length === 1) return list[0]!;
    const methods = methodSet(list);
    if (methods) return (a) => methods.has((a.request ?? NO_REQUEST).method);
    if (list.length === 2) {
      const [x, y] = list as [Matcher, Matcher];
      return (a) => x(a) || y(a);
    }
    return (a) => {
      for (let i = 0; i < list.length; i++) if (list[i]!(a)) return true;
      return false;
    };
  }

  private no(kind: string): Matcher {
    this.unsupported.add(kind);
    return NEVER;
  }

  private header(m: unknown): Matcher {
    // `:method` exact (what every Istio `methods` rule is): a property read instead of a header lookup.
    const method = exactMethod(m);
    if (method !== undefined) {
      const matcher: Matcher = (a) => (a.request ?? NO_REQUEST).method === method;
      exactMethods.set(matcher, method);
      return matcher;
    }
    const p = compileHeaderMatcher(m);
    return (a) => p(a.request ?? NO_REQUEST);
  }

  private urlPath(m: unknown): Matcher {
    const pm = obj(m);
    if (!has(pm, 'path')) return this.no('urlPath without path');
    const plain = plainStringMatch(pm.path);
    if (plain?.kind === 'exact') {
      const want = plain.value;
      return (a) => a.request !== undefined && (a.path ?? pathOnly(a.request.path)) === want;
    }
    if (plain?.kind === 'prefix') {
      const want = plain.value;
      return (a) => a.request !== undefined && (a.path ?? pathOnly(a.request.path)).startsWith(want);
    }
    const test = compileStringMatcher(pm.path);
    return (a) => a.request !== undefined && test(a.path ?? pathOnly(a.request.path));
  }

  private metadata(m: unknown): Matcher {
    const p = compileMetadataMatcher(m);
    return (a) => p(a.metadata);
  }

  permission(v: unknown): Matcher {
    const p = obj(v);
    if (has(p, 'any')) return p.any === true ? ALWAYS : NEVER;
    if (has(p, 'andRules')) return this.all(arr(obj(p.andRules).rules).map((r) => this.permission(r)));
    if (has(p, 'orRules')) return this.any(arr(obj(p.orRules).rules).map((r) => this.permission(r)));
    if (has(p, 'notRule')) {
      const inner = this.permission(p.notRule);
      return (a) => !inner(a);
    }
    if (has(p, 'header')) return this.header(p.header);
    if (has(p, 'urlPath')) return this.urlPath(p.urlPath);
    if (has(p, 'destinationIp')) {
      const c = compileCidr(p.destinationIp);
      return (a) => c(a.destinationIp);
    }
    if (has(p, 'destinationPort')) {
      const port = num(p.destinationPort) ?? -1;
      return (a) => a.destinationPort === port;
    }
    if (has(p, 'destinationPortRange')) {
      // Int32Range: [start, end).
      const r = obj(p.destinationPortRange);
      const start = num(r.start) ?? 0;
      const end = num(r.end) ?? 0;
      return (a) => a.destinationPort >= start && a.destinationPort < end;
    }
    if (has(p, 'requestedServerName')) {
      const test = compileStringMatcher(p.requestedServerName);
      return (a) => test(a.sni ?? '');
    }
    if (has(p, 'metadata')) return this.metadata(p.metadata);
    if (has(p, 'uriTemplate')) return this.no('permission.uriTemplate');
    if (has(p, 'matcher')) return this.no('permission.matcher');
    return this.no('permission (empty)');
  }

  principal(v: unknown): Matcher {
    const p = obj(v);
    if (has(p, 'any')) return p.any === true ? ALWAYS : NEVER;
    if (has(p, 'andIds')) return this.all(arr(obj(p.andIds).ids).map((r) => this.principal(r)));
    if (has(p, 'orIds')) return this.any(arr(obj(p.orIds).ids).map((r) => this.principal(r)));
    if (has(p, 'notId')) {
      const inner = this.principal(p.notId);
      return (a) => !inner(a);
    }
    if (has(p, 'authenticated')) {
      const au = obj(p.authenticated);
      // No principal_name: any peer that presented a validated certificate.
      if (!has(au, 'principalName')) return (a) => a.peerPrincipal !== undefined;
      // Envoy tries the URI SANs, then DNS SANs, then the subject; the sidecar knows the URI SAN (SPIFFE id).
      const test = compileStringMatcher(au.principalName);
      return (a) => a.peerPrincipal !== undefined && test(a.peerPrincipal);
    }
    if (has(p, 'sourceIp') || has(p, 'directRemoteIp')) {
      const c = compileCidr(has(p, 'directRemoteIp') ? p.directRemoteIp : p.sourceIp);
      return (a) => c(a.directRemoteIp);
    }
    if (has(p, 'remoteIp')) {
      const c = compileCidr(p.remoteIp);
      return (a) => c(a.remoteIp ?? a.directRemoteIp);
    }
    if (has(p, 'header')) return this.header(p.header);
    if (has(p, 'urlPath')) return this.urlPath(p.urlPath);
    if (has(p, 'metadata')) return this.metadata(p.metadata);
    if (has(p, 'filterState')) return this.no('principal.filterState');
    if (has(p, 'sourcedMetadata')) return this.no('principal.sourcedMetadata');
    if (has(p, 'custom')) return this.no('principal.custom');
    return this.no('principal (empty)');
  }

  policy(v: Obj): Matcher {
    // CEL conditions are not evaluated: such a policy never matches.
    if (has(v, 'condition') || has(v, 'checkedCondition')) return this.no('policy.condition');
    const perms = this.any(arr(v.permissions).map((x) => this.permission(x)));
    const ids = this.any(arr(v.principals).map((x) => this.principal(x)));
    return (a) => perms(a) && ids(a);
  }
}

const engines = new WeakMap<object, RbacEngine>();

/** The engine for one RBAC message; the same object always gives the same engine. */
export function compileRbac(rbac: Obj): RbacEngine {
  let e = engines.get(rbac);
  if (e) return e;
  const compiler = new Compiler();
  const action = rbacAction(rbac.action);
  const policies = obj(rbac.policies);
  const names = Object.keys(policies).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const compiled = names.map((name) => ({ name, matches: compiler.policy(obj(policies[name])) }));
  // Many policies each asking for their own paths: only those the request path can meet are tried (in order).
  const index = pathIndex(names.map((name) => policyPathNeed(obj(policies[name]).permissions)));
  const first = index === undefined
    ? (a: AuthzAttributes): string | undefined => {
      for (const p of compiled) if (p.matches(a)) return p.name;
      return undefined;
    }
    : (a: AuthzAttributes): string | undefined => {
      const at = index.candidates(a.request === undefined ? undefined : a.path ?? pathOnly(a.request.path));
      for (let i = 0; i < at.length; i++) {
        const p = compiled[at[i]!]!;
        if (p.matches(a)) return p.name;
      }
      return undefined;
    };
  e = {
    action,
    policies: names,
    unsupported: [...compiler.unsupported].sort(),
    evaluate(a) {
      const policy = first(a);
      const matched = policy !== undefined;
      const out: RbacResult = { allowed: action === 'ALLOW' ? matched : action === 'DENY' ? !matched : true };
      if (matched) out.policy = policy;
      if (action === 'LOG') out.logged = matched;
      return out;
    },
  };
  engines.set(rbac, e);
  return e;
}

