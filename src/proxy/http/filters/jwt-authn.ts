// The jwt_authn HTTP filter (envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication) as a Stage. In: the
// filter config (providers, rules, requirement_map, bypass_cors_preflight, strip_failure_response) compiled
// once; per request the route's PerRouteConfig (disabled, requirement_name) or else the first matching rule's
// requirement runs over a scratch view of the headers (jwt-scratch.ts) and path. Out: next() with the scratch
// edits committed (payload/claim headers added, tokens removed unless `forward`) and dynamic metadata
// `envoy.filters.http.jwt_authn` {<payload_in_metadata>: payload}; or Envoy's local reply: 401 (403 for
// audiences) with the status message as body, `www-authenticate: Bearer realm="<scheme>://<host><path>"` (plus
// `error="invalid_token"` unless the token was missing) and details `jwt_authn_access_denied{<message>}`.
// A request that matches no rule, or carries no token, is decided synchronously; only a signature check that no
// cached verification answers makes the stage asynchronous.
import { bool, obj, str } from '../../routing/envoy-values.ts';
import type { Obj } from '../../routing/envoy-values.ts';
import { headerValue } from '../../routing/request.ts';
import type { FileSource, Runtime } from '../../runtime.ts';
import { Extractor } from './jwt-extract.ts';
import { verifySignature } from './jwt-jwks.ts';
import { PENDING, Provider } from './jwt-provider.ts';
import type { VerifyContext } from './jwt-provider.ts';
import { ScratchHeaders } from './jwt-scratch.ts';
import { JWT_STATUS } from './jwt-token.ts';
import type { Jwt, JwtStatus } from './jwt-token.ts';
import { compileRequirementMap, compileRules } from './jwt-verifier.ts';
import type { Verifier } from './jwt-verifier.ts';
import type { FilterRequest, Stage, StageFactory } from './types.ts';

export const JWT_AUTHN_TYPE = 'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
export const JWT_AUTHN_METADATA = 'envoy.filters.http.jwt_authn';
const MAX_URI_PATH = 256;

export interface JwtAuthnOptions {
  /** Wall clock in seconds since the epoch (exp / nbf checks). */
  nowSeconds?: () => number;
  files?: FileSource;
  /** The filter's name in http_filters: its per-route config (PerRouteConfig) is found under it. */
  name?: string;
}

/** Signature results of one request, shared by its verification rounds. */
type Signatures = Map<string, JwtStatus>;

function originalUri(req: FilterRequest): string {
  const r = req.request;
  let path = headerValue(r, 'x-envoy-original-path') ?? r.path;
  if (path.length > MAX_URI_PATH) path = path.slice(0, MAX_URI_PATH);
  return `${r.forwardedProto}://${r.authority}${path}`;
}

function deny(req: FilterRequest, status: JwtStatus, strip: boolean): void {
  const message = JWT_STATUS[status];
  const code = status === 'JwtAudienceNotAllowed' ? 403 : 401;
  const details = `jwt_authn_access_denied{${message.replace(/\s/g, '_')}}`;
  // strip_failure_response: the status alone, no body and no www-authenticate.
  if (strip) return req.reply({ status: code }, [], details);
  let auth = `Bearer realm="${originalUri(req)}"`;
  if (status !== 'JwtMissed') auth += ', error="invalid_token"';
  req.reply({ status: code, body: message, headers: { 'www-authenticate': auth } }, [], details);
}

function hasKeys(o: object): boolean {
  for (const k in o) return k !== undefined;
  return false;
}

function isCorsPreflight(req: FilterRequest): boolean {
  const h = req.request.headers;
  return req.request.method === 'OPTIONS' && !!h.get('origin')?.[0] && !!h.get('access-control-request-method')?.[0];
}

export function jwtAuthnStage(config: Obj, options: JwtAuthnOptions = {}): Stage {
  const providers = new Map<string, Provider>();
  for (const [name, p] of Object.entries(obj(config.providers))) providers.set(name, new Provider(name, obj(p), options.files));
  const byIssuer = (iss: string): Provider | undefined => {
    let blank: Provider | undefined;
    for (const p of providers.values()) {
      if (p.issuer === iss) return p;
      if (p.issuer === '') blank ??= p;
    }
    return blank;
  };
  const rules = compileRules(config, providers);
  const bypassCors = bool(config.bypassCorsPreflight, false);
  const strip = bool(config.stripFailureResponse, false);
  const now = options.nowSeconds ?? (() => Math.floor(Date.now() / 1000));

  // Every provider's token locations. A request with nothing in any of them gets the same answer from a
  // requirement every time, and no effect but the clearing of forgeable headers: both are worked out once per
  // rule (the headers the verifiers that ran cleared, recorded) and replayed.
  const anywhere = new Extractor([...providers.values()].map((p) => p.config));
  const tokenless = new Map<Verifier, { outcome: JwtStatus; cleared: string[] }>();
  const withoutToken = (verifier: Verifier) => {
    let t = tokenless.get(verifier);
    if (!t) {
      const cleared: string[] = [];
      const headers = new Map<string, string[]>();
      headers.delete = (k: string) => { cleared.push(k); return false; };
      const out = verifier.verify({ headers, path: '/', nowSeconds: 0, metadata: {}, byIssuer, sig: () => 'JwtVerificationFail' });
      t = { outcome: out === PENDING ? 'JwtMissed' : out, cleared };
      tokenless.set(verifier, t);
    }
    return t;
  };
  // Signature checks in flight, shared by concurrent requests carrying the same token.
  const inflight = new Map<string, Promise<JwtStatus>>();
  const signature = (provider: Provider, jwt: Jwt, key: string): Promise<JwtStatus> => {
    let p = inflight.get(key);
    if (!p) {
      p = verifySignature(jwt, provider.keys).catch(() => 'JwtVerificationFail' as const);
      inflight.set(key, p);
      void p.then(() => inflight.delete(key));
    }
    return p;
  };

  const attempt = (req: FilterRequest, verifier: Verifier, next: () => void, sigs: Signatures | undefined): void => {
    const jobs: Array<Promise<void>> = [];
    // Verification replaces a header's array, never edits one in place: the view keeps its edits until commit.
    const headers = new ScratchHeaders(req.request.headers);
    const ctx: VerifyContext = {
      headers,
      path: req.request.path,
      nowSeconds: now(),
      metadata: {},
      byIssuer,
      sig(provider: Provider, jwt: Jwt) {
        const key = `${provider.name}\0${jwt.token}`;
        const known = sigs?.get(key);
        if (known !== undefined) return known;
        jobs.push(signature(provider, jwt, key).then((s) => void (sigs ??= new Map()).set(key, s)));
        return undefined;
      },
    };
    const out = verifier.verify(ctx);
    if (out === PENDING) {
      void Promise.all(jobs).then(() => {
        if (!req.done) attempt(req, verifier, next, sigs);
      });
      return;
    }
    if (out !== 'Ok') return deny(req, out, strip);
    headers.commit(req.request.headers);
    req.request.path = ctx.path;
    if (hasKeys(ctx.metadata)) {
      // ctx.metadata is this attempt's own object: it becomes the namespace unless an earlier stage wrote there.
      const prev = req.metadata.get(JWT_AUTHN_METADATA);
      req.metadata.set(JWT_AUTHN_METADATA, prev ? { ...prev, ...ctx.metadata } : ctx.metadata);
    }
    next();
  };

  const named = compileRequirementMap(config, providers);
  /** The verifier for a request: its route's PerRouteConfig (disabled, or a requirement_name), else the first
   * matching rule's; undefined = nothing to verify; a string = the per-route config names no requirement. */
  const verifierFor = (req: FilterRequest): Verifier | string | undefined => {
    const action = req.route.action;
    const per = options.name !== undefined && action.kind === 'cluster' ? action.perFilterConfig?.[options.name] : undefined;
    if (per === null) return undefined;
    if (per !== undefined) {
      if (bool(per.disabled, false)) return undefined;
      const name = str(per.requirementName);
      return named.get(name) ?? `Wrong requirement_name: ${name}. It should be one of [${[...named.keys()].join(',')}]`;
    }
    for (let i = 0; i < rules.length; i++) if (rules[i]!.matches(req.request)) return rules[i]!.verifier;
    return undefined;
  };

  return (req, next) => {
    if (bypassCors && isCorsPreflight(req)) return next();
    const verifier = verifierFor(req);
    if (verifier === undefined) return next();
    if (typeof verifier === 'string') {
      return req.reply({ status: 403, ...(strip ? {} : { body: `Failed JWT authentication: ${verifier}` }) }, [], `jwt_authn_access_denied{${verifier.replace(/\s/g, '_')}}`);
    }
    if (anywhere.any(req.request)) return attempt(req, verifier, next, undefined);
    const t = withoutToken(verifier);
    if (t.outcome !== 'Ok') return deny(req, t.outcome, strip);
    const h = req.request.headers;
    for (const name of t.cleared) h.delete(name);
    next();
  };
}

export const jwtAuthnFactory: StageFactory = (filter, runtime: Runtime) => jwtAuthnStage(filter.config, { files: runtime.live.files, name: filter.name });
