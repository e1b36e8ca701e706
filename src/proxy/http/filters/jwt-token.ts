// A JWT as Envoy's jwt_authn reads it before any key is involved. In: the token string; out: its parts and the
// registered claims (iss, sub, aud, exp, nbf, iat) or the Envoy status that rejects it, plus the time and audience
// checks with Envoy's rules (clock skew both ways, audiences compared without scheme and trailing slash).
// Synchronous and allocation-light: a request pays this only when it carries a token.

/** Envoy's jwt_verify statuses weft produces, with their exact messages (the 401 body and the details). */
export const JWT_STATUS = {
  Ok: 'OK',
  JwtMissed: 'Jwt is missing',
  JwtNotYetValid: 'Jwt not yet valid',
  JwtExpired: 'Jwt is expired',
  JwtBadFormat: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  JwtHeaderParseErrorBadBase64: 'Jwt header is an invalid Base64url encoded',
  JwtHeaderParseErrorBadJson: 'Jwt header is an invalid JSON',
  JwtHeaderBadAlg: 'Jwt header [alg] field is required and must be a string',
  JwtHeaderNotImplementedAlg: 'Jwt header [alg] is not supported',
  JwtHeaderBadKid: 'Jwt header [kid] field is not a string',
  JwtPayloadParseErrorBadBase64: 'Jwt payload is an invalid Base64url encoded',
  JwtPayloadParseErrorBadJson: 'Jwt payload is an invalid JSON',
  JwtPayloadParseErrorIssNotString: 'Jwt payload [iss] field is not a string',
  JwtPayloadParseErrorSubNotString: 'Jwt payload [sub] field is not a string',
  JwtPayloadParseErrorIatNotInteger: 'Jwt payload [iat] field is not an integer',
  JwtPayloadParseErrorNbfNotInteger: 'Jwt payload [nbf] field is not an integer',
  JwtPayloadParseErrorExpNotInteger: 'Jwt payload [exp] field is not an integer',
  JwtPayloadParseErrorJtiNotString: 'Jwt payload [jti] field is not a string',
  JwtPayloadParseErrorAudNotString: 'Jwt payload [aud] field is not a string or string list',
  JwtSignatureParseErrorBadBase64: 'Jwt signature is an invalid Base64url encoded',
  JwtEd25519SignatureWrongLength: 'Jwt ED25519 signature is wrong length',
  JwtUnknownIssuer: 'Jwt issuer is not configured',
  JwtAudienceNotAllowed: 'Audiences in Jwt are not allowed',
  JwtVerificationFail: 'Jwt verification fails',
  JwksNoValidKeys: "Jwks doesn't have any valid public key",
  JwksKidAlgMismatch: "Jwks doesn't have key to match kid or alg from Jwt",
} as const;

export type JwtStatus = keyof typeof JWT_STATUS;

/** The algorithms Envoy implements (anything else, `none` included, is JwtHeaderNotImplementedAlg). */
export const JWT_ALGS: ReadonlySet<string> = new Set([
  'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA',
]);

export interface Jwt {
  readonly token: string;
  readonly alg: string;
  /** '' when the header has none. */
  readonly kid: string;
  readonly iss: string;
  readonly sub: string;
  readonly audiences: readonly string[];
  /** Seconds since the epoch; 0 = absent. */
  readonly exp: number;
  readonly nbf: number;
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
  /** The payload segment as it was on the wire (base64url, no padding). */
  readonly payloadBase64url: string;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function decodeSegment(s: string): Buffer | undefined {
  // Envoy's decoder accepts the url alphabet with or without padding.
  const bare = s.endsWith('==') ? s.slice(0, -2) : s.endsWith('=') ? s.slice(0, -1) : s;
  if (!B64URL.test(bare) || bare.length % 4 === 1) return undefined;
  return Buffer.from(bare, 'base64url');
}

function parseObject(b: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(b.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** An integer claim: absent → 0, a non-negative whole number → it, anything else → undefined (an error). */
function intClaim(v: unknown): number | undefined {
  if (v === undefined) return 0;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : undefined;
}

export function parseJwt(token: string): Jwt | JwtStatus {
  const parts = token.split('.');
  if (parts.length !== 3) return 'JwtBadFormat';
  const [h, p, s] = parts as [string, string, string];
  const hb = decodeSegment(h);
  if (!hb) return 'JwtHeaderParseErrorBadBase64';
  const header = parseObject(hb);
  if (!header) return 'JwtHeaderParseErrorBadJson';
  if (typeof header.alg !== 'string') return 'JwtHeaderBadAlg';
  const alg = header.alg;
  if (!JWT_ALGS.has(alg)) return 'JwtHeaderNotImplementedAlg';
  if (header.kid !== undefined && typeof header.kid !== 'string') return 'JwtHeaderBadKid';
  const pb = decodeSegment(p);
  if (!pb) return 'JwtPayloadParseErrorBadBase64';
  const payload = parseObject(pb);
  if (!payload) return 'JwtPayloadParseErrorBadJson';
  if (payload.iss !== undefined && typeof payload.iss !== 'string') return 'JwtPayloadParseErrorIssNotString';
  if (payload.sub !== undefined && typeof payload.sub !== 'string') return 'JwtPayloadParseErrorSubNotString';
  if (intClaim(payload.iat) === undefined) return 'JwtPayloadParseErrorIatNotInteger';
  const nbf = intClaim(payload.nbf);
  if (nbf === undefined) return 'JwtPayloadParseErrorNbfNotInteger';
  const exp = intClaim(payload.exp);
  if (exp === undefined) return 'JwtPayloadParseErrorExpNotInteger';
  if (payload.jti !== undefined && typeof payload.jti !== 'string') return 'JwtPayloadParseErrorJtiNotString';
  let audiences: string[] = [];
  const aud = payload.aud;
  if (typeof aud === 'string') audiences = [aud];
  else if (Array.isArray(aud)) {
    if (!aud.every((a) => typeof a === 'string')) return 'JwtPayloadParseErrorAudNotString';
    audiences = aud as string[];
  } else if (aud !== undefined) return 'JwtPayloadParseErrorAudNotString';
  const sig = decodeSegment(s);
  if (!sig) return 'JwtSignatureParseErrorBadBase64';
  if (sig.length === 0) return 'JwtBadFormat';
  if (alg === 'EdDSA' && sig.length !== 64) return 'JwtEd25519SignatureWrongLength';
  return {
    token,
    alg,
    kid: typeof header.kid === 'string' ? header.kid : '',
    iss: typeof payload.iss === 'string' ? payload.iss : '',
    sub: typeof payload.sub === 'string' ? payload.sub : '',
    audiences,
    exp,
    nbf,
    header,
    payload,
    payloadBase64url: p,
  };
}

/** Envoy's verifyTimeConstraint: nbf and exp with the clock skew on both sides (seconds). */
export function checkTime(jwt: Jwt, nowSeconds: number, skewSeconds: number): JwtStatus {
  if (nowSeconds + skewSeconds < jwt.nbf) return 'JwtNotYetValid';
  if (jwt.exp !== 0 && nowSeconds > jwt.exp + skewSeconds) return 'JwtExpired';
  return 'Ok';
}

/** An audience as CheckAudience compares it: without http:// or https:// and without one trailing slash. */
function normalizeAudience(a: string): string {
  let s = a.startsWith('http://') ? a.slice(7) : a.startsWith('https://') ? a.slice(8) : a;
  if (s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

export class AudienceCheck {
  private readonly allowed: ReadonlySet<string>;
  constructor(audiences: readonly string[]) {
    this.allowed = new Set(audiences.map(normalizeAudience));
  }

  /** No configured audiences allow any token; otherwise one of the token's audiences must be configured. */
  allows(audiences: readonly string[]): boolean {
    if (this.allowed.size === 0) return true;
    return audiences.some((a) => this.allowed.has(normalizeAudience(a)));
  }
}
