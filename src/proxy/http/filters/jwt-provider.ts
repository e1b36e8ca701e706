// One jwt_authn JwtProvider compiled for the sidecar, and the authenticator that checks a request's tokens
// against it the way Envoy's AuthenticatorImpl does. In: the provider's config (issuer, audiences, JWKS,
// forward, forward_payload_header, claim_to_headers, payload/header_in_metadata, clock skew, cache size) and the
// tokens a verifier extracted; out: an Envoy status, with the effects of each good token (payload header, claim
// headers, token removal, metadata with normalize_payload_in_metadata) applied to the request's scratch copy.
// Tokens are checked last-found first; all must pass unless missing or failed tokens are allowed. Signatures are the only asynchronous part: the
// authenticator asks `sig()` and gets `undefined` while a check is pending; everything else is synchronous.
import { arr, bool, obj, str, strs, u32 } from '../../routing/envoy-values.ts';
import type { Obj } from '../../routing/envoy-values.ts';
import type { FileSource } from '../../runtime.ts';
import type { TokenLocation, TokenSource } from './jwt-extract.ts';
import { localJwksText, parseJwks } from './jwt-jwks.ts';
import type { JwksKey } from './jwt-jwks.ts';
import { AudienceCheck, checkTime, parseJwt } from './jwt-token.ts';
import type { Jwt, JwtStatus } from './jwt-token.ts';

const DEFAULT_CLOCK_SKEW_SECONDS = 60;
const DEFAULT_CACHE_SIZE = 100;

/** Verified tokens of one provider (bounded: the oldest entry goes first; expired ones on lookup). The entry
 * found last is checked first: a client sends the same token on request after request, and comparing it costs
 * less than hashing a new copy of a long string for the map. */
class JwtCache {
  private readonly m = new Map<string, Jwt>();
  private readonly size: number;
  private lastKey: string | undefined = undefined;
  private lastJwt: Jwt | undefined = undefined;
  constructor(size: number) {
    this.size = size;
  }
  get(token: string, nowSeconds: number): Jwt | undefined {
    const j = token === this.lastKey ? this.lastJwt : this.m.get(token);
    if (!j) return undefined;
    if (j.exp !== 0 && nowSeconds > j.exp) {
      this.delete(token);
      return undefined;
    }
    this.lastKey = token;
    this.lastJwt = j;
    return j;
  }

  put(token: string, jwt: Jwt): void {
    if (this.size <= 0) return;
    this.m.delete(token);
    this.m.set(token, jwt);
    if (this.lastKey === token) this.lastJwt = jwt;
    if (this.m.size > this.size) this.delete(this.m.keys().next().value!);
  }

  private delete(token: string): void {
    this.m.delete(token);
    if (this.lastKey === token) this.lastKey = this.lastJwt = undefined;
  }

  get length(): number {
    return this.m.size;
  }
}

export class Provider {
  readonly name: string;
  readonly config: Obj;
  readonly issuer: string;
  readonly keys: JwksKey[];
  readonly audiences: AudienceCheck;
  readonly skew: number;
  readonly cache: JwtCache;
  readonly payloadInMetadata: string;
  readonly spaceDelimited: readonly string[];
  /** The metadata form of verified payloads (normalize_payload_in_metadata applied once per token). */
  readonly normalized = new WeakMap<Jwt, Record<string, unknown>>();
  constructor(name: string, config: Obj, files: FileSource | undefined) {
    this.name = name;
    this.config = config;
    this.issuer = str(config.issuer);
    this.keys = parseJwks(localJwksText(config.localJwks, files));
    this.audiences = new AudienceCheck(strs(config.audiences));
    this.skew = (u32(config.clockSkewSeconds) ?? 0) > 0 ? u32(config.clockSkewSeconds)! : DEFAULT_CLOCK_SKEW_SECONDS;
    this.cache = new JwtCache(u32(obj(config.jwtCacheConfig).jwtCacheSize) || DEFAULT_CACHE_SIZE);
    this.payloadInMetadata = str(config.payloadInMetadata);
    this.spaceDelimited = strs(obj(config.normalizePayloadInMetadata).spaceDelimitedClaims);
  }
}

/** The request's state while a verifier runs: a scratch copy committed only if the requirement is met. */
export interface VerifyContext extends TokenSource {
  readonly nowSeconds: number;
  /** Payloads (and headers) of good tokens by their metadata key. */
  readonly metadata: Record<string, unknown>;
  /** The signature status of `jwt` under `provider`'s keys; undefined while pending (a check was scheduled). */
  sig(provider: Provider, jwt: Jwt): JwtStatus | undefined;
  /** Providers by issuer, for the allow_missing / allow_missing_or_failed authenticators. */
  byIssuer(iss: string): Provider | undefined;
}

export const PENDING = Symbol('pending');
export type Outcome = JwtStatus | typeof PENDING;

export interface AuthenticatorOptions {
  provider?: Provider;
  audiences?: AudienceCheck;
  allowFailed: boolean;
  allowMissing: boolean;
}

/** Envoy's convertClaimDoubleToString: whole non-negative numbers as integers, others with six decimals. */
function numberText(n: number): string {
  if (n >= 0 && n < 2 ** 64 && Number.isInteger(n)) return BigInt(n).toString();
  return n.toFixed(6);
}

function claimAt(payload: Record<string, unknown>, path: string): unknown {
  let v: unknown = payload;
  for (const part of path.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function addHeader(ctx: VerifyContext, name: string, value: string): void {
  const n = name.toLowerCase();
  const prev = ctx.headers.get(n);
  ctx.headers.set(n, prev ? [...prev, value] : [value]);
}

function goodJwt(ctx: VerifyContext, p: Provider, jwt: Jwt, loc: TokenLocation): void {
  const c = p.config;
  const payloadHeader = str(c.forwardPayloadHeader);
  if (payloadHeader) {
    let v = jwt.payloadBase64url;
    if (bool(c.padForwardPayloadHeader, false)) while (v.length % 4 !== 0) v += '=';
    addHeader(ctx, payloadHeader, v);
  }
  for (const ch of arr(c.claimToHeaders)) {
    const v = claimAt(jwt.payload, str(ch.claimName));
    const text = typeof v === 'string' ? v : typeof v === 'number' ? numberText(v) : typeof v === 'boolean' ? String(v) : '';
    if (text !== '' && str(ch.headerName)) addHeader(ctx, str(ch.headerName), text);
  }
  if (!bool(c.forward, false)) loc.remove(ctx);
  if (str(c.headerInMetadata)) ctx.metadata[str(c.headerInMetadata)] = jwt.header;
  if (p.payloadInMetadata) {
    let payload = p.normalized.get(jwt);
    if (!payload) p.normalized.set(jwt, (payload = metadataPayload(jwt.payload, p.spaceDelimited)));
    ctx.metadata[p.payloadInMetadata] = payload;
  }
}

/** The payload as metadata: normalize_payload_in_metadata's space-delimited claims become lists of strings. */
function metadataPayload(payload: Record<string, unknown>, spaceDelimited: readonly string[]): Record<string, unknown> {
  if (spaceDelimited.length === 0) return payload;
  let out = payload;
  for (const claim of spaceDelimited) {
    const v = payload[claim];
    if (typeof v !== 'string') continue;
    if (out === payload) out = { ...payload };
    out[claim] = v.split(' ').filter((x) => x !== '');
  }
  return out;
}

/** One token through issuer, time, audience and signature checks. */
function checkOne(ctx: VerifyContext, o: AuthenticatorOptions, loc: TokenLocation): Outcome {
  const cached = o.provider?.cache.get(loc.token, ctx.nowSeconds);
  const parsed = cached ?? parseJwt(loc.token);
  if (typeof parsed === 'string') return parsed;
  const jwt = parsed;
  if (!loc.issuerAllowed(jwt.iss)) return 'JwtUnknownIssuer';
  const p = o.provider ?? ctx.byIssuer(jwt.iss);
  if (!p) return 'JwtUnknownIssuer';
  const time = checkTime(jwt, ctx.nowSeconds, p.skew);
  if (time !== 'Ok') return time;
  if (!(o.audiences ?? p.audiences).allows(jwt.audiences)) return 'JwtAudienceNotAllowed';
  if (!cached) {
    const s = ctx.sig(p, jwt);
    if (s === undefined) return PENDING;
    if (s !== 'Ok') return s;
    if (o.provider) o.provider.cache.put(loc.token, jwt);
  }
  goodJwt(ctx, p, jwt, loc);
  return 'Ok';
}

/** Envoy's authenticator over the extracted tokens (`tokens` is consumed from the end). */
export function authenticate(ctx: VerifyContext, o: AuthenticatorOptions, tokens: TokenLocation[]): Outcome {
  let status: JwtStatus = 'JwtMissed';
  for (;;) {
    const loc = tokens.pop();
    if (loc) {
      const r = checkOne(ctx, o, loc);
      if (r === PENDING) return PENDING;
      status = r;
    }
    if ((status !== 'Ok' && !o.allowFailed && !o.allowMissing) || tokens.length === 0) {
      if (o.allowFailed) return 'Ok';
      if (o.allowMissing && status === 'JwtMissed') return 'Ok';
      return status;
    }
  }
}
