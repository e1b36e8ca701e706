// A JwtRequirement compiled into Envoy's verifier tree, and the rules that pick one. In: a requirement
// (provider_name, provider_and_audiences, requires_any, requires_all, allow_missing, allow_missing_or_failed, or
// none) and the compiled providers; out: `verify(ctx)` giving the Envoy status of the whole requirement with
// Envoy's short-circuits (any: first Ok wins, else the most telling failure; all: first failure wins) or PENDING
// while a signature check is outstanding. Rules match like routes (prefix, path, safe_regex,
// path_separated_prefix, headers, query parameters); the first matching rule's requirement applies.
import { arr, bool, has, obj, str, strs } from '../../routing/envoy-values.ts';
import type { Obj } from '../../routing/envoy-values.ts';
import { compileHeaderMatchers, compileQueryMatcher } from '../../routing/header-matcher.ts';
import { compileRegex, fullMatch } from '../../routing/regex.ts';
import { pathOnly } from '../../routing/request.ts';
import type { HttpRequest } from '../../routing/request.ts';
import { asciiLower } from '../../routing/string-matcher.ts';
import { Extractor } from './jwt-extract.ts';
import { authenticate, PENDING } from './jwt-provider.ts';
import type { AuthenticatorOptions, Outcome, Provider, VerifyContext } from './jwt-provider.ts';
import { AudienceCheck } from './jwt-token.ts';
import type { JwtStatus } from './jwt-token.ts';

export interface Verifier {
  verify(ctx: VerifyContext): Outcome;
}

// The options are the verifier's own, made once: the authenticator only reads them.
function run(ctx: VerifyContext, ex: Extractor, opts: AuthenticatorOptions): Outcome {
  for (let i = 0; i < ex.sanitize.length; i++) ctx.headers.delete(ex.sanitize[i]!);
  return authenticate(ctx, opts, ex.extract(ctx));
}

class ProviderVerifier implements Verifier {
  private readonly extractor: Extractor;
  private readonly options: AuthenticatorOptions;
  constructor(provider: Provider, audiences: AudienceCheck | undefined) {
    this.options = { provider, ...(audiences ? { audiences } : {}), allowFailed: false, allowMissing: false };
    this.extractor = new Extractor([provider.config]);
  }

  verify(ctx: VerifyContext): Outcome {
    return run(ctx, this.extractor, this.options);
  }
}

/** allow_missing (failed tokens still fail) or allow_missing_or_failed, over every provider's locations. */
class AllowVerifier implements Verifier {
  private readonly extractor: Extractor;
  private readonly options: AuthenticatorOptions;
  constructor(providers: readonly Provider[], allowFailed: boolean) {
    this.options = { allowFailed, allowMissing: true };
    this.extractor = new Extractor(providers.map((p) => p.config));
  }

  verify(ctx: VerifyContext): Outcome {
    return run(ctx, this.extractor, this.options);
  }
}

class AllowAll implements Verifier {
  verify(): Outcome {
    return 'Ok';
  }
}

class AnyVerifier implements Verifier {
  private readonly children: Verifier[];
  private readonly allowMissing: boolean;
  private readonly allowFailed: boolean;
  constructor(children: Verifier[], allowMissing: boolean, allowFailed: boolean) {
    this.children = children;
    this.allowMissing = allowMissing;
    this.allowFailed = allowFailed;
  }

  verify(ctx: VerifyContext): Outcome {
    let final: JwtStatus = 'JwtMissed';
    for (const c of this.children) {
      const s = c.verify(ctx);
      if (s === PENDING || s === 'Ok') return s;
      // Prefer real failures over JwtMissed / JwtUnknownIssuer, and JwtUnknownIssuer over JwtMissed.
      if ((s !== 'JwtMissed' && s !== 'JwtUnknownIssuer') || final === 'JwtMissed') final = s;
    }
    if (this.allowFailed) return 'Ok';
    if (this.allowMissing && final === 'JwtMissed') return 'Ok';
    return final;
  }
}

class AllVerifier implements Verifier {
  private readonly children: Verifier[];
  constructor(children: Verifier[]) {
    this.children = children;
  }

  verify(ctx: VerifyContext): Outcome {
    for (const c of this.children) {
      const s = c.verify(ctx);
      if (s !== 'Ok') return s;
    }
    return 'Ok';
  }
}

export class RequirementError extends Error {}

export function compileRequirement(req: unknown, providers: ReadonlyMap<string, Provider>): Verifier {
  const r = obj(req);
  const all = [...providers.values()];
  const provider = (name: string): Provider => {
    const p = providers.get(name);
    if (!p) throw new RequirementError(`Required provider ['${name}'] is not configured.`);
    return p;
  };
  if (has(r, 'providerName')) return new ProviderVerifier(provider(str(r.providerName)), undefined);
  if (has(r, 'providerAndAudiences')) {
    const pa = obj(r.providerAndAudiences);
    const auds = strs(pa.audiences);
    return new ProviderVerifier(provider(str(pa.providerName)), auds.length > 0 ? new AudienceCheck(auds) : undefined);
  }
  if (has(r, 'requiresAny')) {
    const children: Verifier[] = [];
    let allowMissing = false;
    let allowFailed = false;
    for (const c of arr(obj(r.requiresAny).requirements)) {
      if (has(c, 'allowMissingOrFailed')) allowFailed = true;
      else if (has(c, 'allowMissing')) allowMissing = true;
      else children.push(compileRequirement(c, providers));
    }
    if (children.length === 0 && (allowFailed || allowMissing)) children.push(new AllowVerifier(all, allowFailed));
    return new AnyVerifier(children, allowMissing, allowFailed);
  }
  if (has(r, 'requiresAll')) return new AllVerifier(arr(obj(r.requiresAll).requirements).map((c) => compileRequirement(c, providers)));
  if (has(r, 'allowMissingOrFailed')) return new AllowVerifier(all, true);
  if (has(r, 'allowMissing')) return new AllowVerifier(all, false);
  return new AllowAll();
}

/** A jwt_authn RequirementRule's RouteMatch as a predicate. */
export function compileRuleMatch(match: unknown): (req: HttpRequest) => boolean {
  const m = obj(match);
  const caseSensitive = bool(m.caseSensitive, true);
  const fold = caseSensitive ? (s: string) => s : asciiLower;
  let path: (p: string) => boolean;
  if (has(m, 'prefix')) {
    const x = fold(str(m.prefix));
    path = (p) => fold(p).startsWith(x);
  } else if (has(m, 'path')) {
    const x = fold(str(m.path));
    path = (p) => fold(p) === x;
  } else if (has(m, 'safeRegex')) {
    const re = compileRegex(str(obj(m.safeRegex).regex));
    path = (p) => fullMatch(re, p);
  } else if (has(m, 'pathSeparatedPrefix')) {
    const x = fold(str(m.pathSeparatedPrefix));
    path = (p) => {
      const f = fold(p);
      return f.startsWith(x) && (f.length === x.length || f[x.length] === '/');
    };
  } else {
    path = () => false;
  }
  const headers = compileHeaderMatchers(arr(m.headers));
  const queries = arr(m.queryParameters).map(compileQueryMatcher);
  return (req) => {
    if (!path(pathOnly(req.path))) return false;
    if (headers && !headers(req)) return false;
    if (queries.length > 0) {
      const params = new Map<string, string>();
      const q = req.path.indexOf('?');
      if (q >= 0) {
        for (const part of req.path.slice(q + 1).split('&')) {
          const eq = part.indexOf('=');
          const name = eq < 0 ? part : part.slice(0, eq);
          if (part !== '' && !params.has(name)) params.set(name, eq < 0 ? '' : part.slice(eq + 1));
        }
      }
      if (!queries.every((t) => t(params))) return false;
    }
    return true;
  };
}

export interface CompiledRule {
  matches(req: HttpRequest): boolean;
  verifier: Verifier;
}

/** The filter's rules in order; a rule naming a requirement_name uses the requirement_map entry. */
export function compileRules(config: Obj, providers: ReadonlyMap<string, Provider>): CompiledRule[] {
  const map = obj(config.requirementMap);
  return arr(config.rules).map((rule) => {
    const name = str(rule.requirementName);
    let requirement: unknown = rule.requires;
    if (name) {
      if (!(name in map)) throw new RequirementError(`Wrong requirement_name: ${name}. It should be one of [${Object.keys(map).join(',')}]`);
      requirement = map[name];
    }
    return { matches: compileRuleMatch(rule.match), verifier: compileRequirement(requirement, providers) };
  });
}

/** requirement_map's entries compiled, for rules and per-route configs that name them. */
export function compileRequirementMap(config: Obj, providers: ReadonlyMap<string, Provider>): Map<string, Verifier> {
  return new Map(Object.entries(obj(config.requirementMap)).map(([name, r]) => [name, compileRequirement(r, providers)]));
}
