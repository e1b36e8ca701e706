// Semantic validation of RequestAuthentication. In: the resource as stored; out: errors (refused) and warnings.
// Covers the CRD's CEL rules (scope alternatives, one key source, issuer-or-jwksUri, URL scheme, timeout) so the
// offline path refuses the same objects, plus the checks of JWKS documents, token locations and output headers.
import type { RequestAuthentication, RequestAuthenticationSpec } from '../api/requestauthentication.ts';
import { checkHeaderName } from './authz-values.ts';
import { checkDuration } from './common.ts';
import { checkPolicyScope } from './policy-scope.ts';
import { at, Findings, type ValidationResult } from './result.ts';

type JwtRule = NonNullable<RequestAuthenticationSpec['jwtRules']>[number];

const STRICT_HEADER = /^[-_A-Za-z0-9]+$/;

/** An http(s) URL with a host, the only kind of key-set location the proxy can fetch. */
export function checkJwksUri(value: string): string | undefined {
  // The WHATWG parser would repair "https:host/keys"; the API server's URL check does not, so neither do we.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return `jwksUri must be an http:// or https:// URL; "${value}" is not a URL`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `jwksUri must be an http:// or https:// URL; "${value}" is not a URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `jwksUri must be an http:// or https:// URL; got scheme "${url.protocol.slice(0, -1)}"`;
  }
  if (url.hostname === '') return `jwksUri must be an http:// or https:// URL with a host; got "${value}"`;
  return undefined;
}

/**
 * An inline key set: a JSON object with a "keys" array of JWKs (a lone JWK is accepted too, as the mesh does).
 * Returns an error, or the number of keys found.
 */
export function checkJwks(value: string): { error?: string; keys?: number } {
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch (e) {
    return { error: `jwks is not valid JSON: ${(e as Error).message}` };
  }
  const isKey = (k: unknown): boolean => typeof k === 'object' && k !== null && typeof (k as { kty?: unknown }).kty === 'string';
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { error: 'jwks must be a JSON Web Key Set: a JSON object with a "keys" array' };
  }
  const keys = (doc as { keys?: unknown }).keys;
  if (keys === undefined) {
    return isKey(doc) ? { keys: 1 } : { error: 'jwks must be a JSON Web Key Set: a JSON object with a "keys" array' };
  }
  if (!Array.isArray(keys)) return { error: 'jwks "keys" must be an array of JSON Web Keys' };
  const bad = keys.findIndex((k) => !isKey(k));
  if (bad >= 0) return { error: `jwks keys[${bad}] is not a JSON Web Key (an object with a "kty" member)` };
  return { keys: keys.length };
}

function checkStrings(f: Findings, path: string, list: unknown, what: string): void {
  if (!Array.isArray(list)) return;
  list.forEach((v, i) => {
    if (typeof v !== 'string' || v === '') f.error(at(path, i), `${what} must be a non-empty string`);
  });
}

function checkRule(f: Findings, path: string, rule: JwtRule): void {
  if (typeof rule !== 'object' || rule === null) {
    f.error(path, 'jwtRules entries must be objects');
    return;
  }
  const uri = rule.jwksUri ?? rule.jwks_uri;
  const sources = [rule.jwksUri, rule.jwks_uri, rule.jwks].filter((x) => x !== undefined && x !== null).length;
  if (sources > 1) f.error(path, 'only one of jwks or jwksUri can be set');
  if (!rule.issuer && !uri) f.error(at(path, 'issuer'), 'issuer is required unless jwksUri is set');
  if (rule.jwks_uri !== undefined) f.warn(at(path, 'jwks_uri'), 'jwks_uri is the older spelling of jwksUri; prefer jwksUri');
  if (rule.presence === 'REQUIRED') {
    f.warn(at(path, 'presence'), 'presence REQUIRED is not carried out by weft: a request without this token is not refused; '
      + 'require it with an AuthorizationPolicy on requestPrincipals');
  }

  for (const k of ['jwksUri', 'jwks_uri'] as const) {
    const v = rule[k];
    if (v === undefined || v === null) continue;
    const e = checkJwksUri(v);
    if (e) f.error(at(path, k), e);
    else if (v.startsWith('http://')) {
      f.warn(at(path, k), 'the key set is fetched over plain http, where anyone on the path could replace the keys');
    }
  }
  if (typeof rule.jwks === 'string' && rule.jwks !== '') {
    const { error, keys } = checkJwks(rule.jwks);
    if (error) f.error(at(path, 'jwks'), error);
    else if (keys === 0) f.warn(at(path, 'jwks'), 'jwks has no keys, so no token can be verified');
  }

  checkStrings(f, at(path, 'audiences'), rule.audiences, 'audience');
  checkStrings(f, at(path, 'fromParams'), rule.fromParams, 'query parameter name');
  checkStrings(f, at(path, 'fromCookies'), rule.fromCookies, 'cookie name');
  checkStrings(f, at(path, 'spaceDelimitedClaims'), rule.spaceDelimitedClaims, 'claim name');
  if (Array.isArray(rule.spaceDelimitedClaims) && rule.spaceDelimitedClaims.length > 64) {
    f.error(at(path, 'spaceDelimitedClaims'), 'at most 64 claims may be listed');
  }
  (rule.fromHeaders ?? []).forEach((h, i) => {
    const e = h?.name ? checkHeaderName(h.name) : 'header name must be a non-empty string';
    if (e) f.error(at(path, 'fromHeaders', i, 'name'), e);
  });
  if (rule.outputPayloadToHeader) {
    const e = checkHeaderName(rule.outputPayloadToHeader);
    if (e) f.error(at(path, 'outputPayloadToHeader'), e);
  }
  const seen = new Map<string, number>();
  (rule.outputClaimToHeaders ?? []).forEach((c, i) => {
    const p = at(path, 'outputClaimToHeaders', i);
    if (!c?.claim) f.error(at(p, 'claim'), 'claim must be a non-empty string');
    if (!c?.header) {
      f.error(at(p, 'header'), 'header must be a non-empty string');
      return;
    }
    if (!STRICT_HEADER.test(c.header)) {
      f.error(at(p, 'header'), `"${c.header}" is not a valid header name (letters, digits, "-" and "_" only)`);
    }
    const lower = c.header.toLowerCase();
    const first = seen.get(lower);
    if (first !== undefined) {
      f.warn(at(p, 'header'), `header ${c.header} is also written by outputClaimToHeaders[${first}]; only one value survives`);
    } else seen.set(lower, i);
  });
  if (rule.timeout !== undefined && rule.timeout !== null) {
    const e = checkDuration(rule.timeout);
    if (e) f.error(at(path, 'timeout'), `timeout must be a valid duration of at least 1ms: ${e}`);
  }
}

export function validateRequestAuthentication(obj: RequestAuthentication): ValidationResult {
  const f = new Findings();
  const spec: RequestAuthenticationSpec = obj.spec ?? {};
  checkPolicyScope(f, spec);
  const rules = spec.jwtRules;
  if (!Array.isArray(rules) || rules.length === 0) {
    f.warn('spec.jwtRules', 'no jwtRules are set, so this policy verifies nothing');
    return f.result();
  }
  if (rules.length > 4096) f.error('spec.jwtRules', 'at most 4096 jwtRules may be set');
  const issuers = new Map<string, number>();
  rules.forEach((rule, i) => {
    const path = at('spec.jwtRules', i);
    checkRule(f, path, rule);
    const issuer = rule?.issuer;
    if (!issuer) return;
    const first = issuers.get(issuer);
    if (first !== undefined) {
      f.warn(at(path, 'issuer'), `issuer ${issuer} is also configured by jwtRules[${first}]; tokens are verified by one of them only`);
    } else issuers.set(issuer, i);
  });
  return f.result();
}
