// Where jwt_authn looks for tokens, as Envoy's extractor does. In: the providers a verifier uses (their
// from_headers with value_prefix, from_params, from_cookies; Authorization "Bearer " and the access_token query
// parameter when a provider names none); out: the tokens of a request in Envoy's order (headers by name+prefix,
// then query parameters, then cookies, each in name order), each knowing which issuers configured its location
// and how to take it off the request (header removed, query parameter removed, cookies left alone). Also the
// headers a verifier clears before extracting (forward_payload_header, claim_to_headers), so a client cannot
// forge them.
import { arr, str, strs } from '../../routing/envoy-values.ts';
import type { Obj } from '../../routing/envoy-values.ts';

/** The header operations verification uses (a Map, or a scratch view over the request's, jwt-scratch.ts). */
export interface HeaderView {
  get(name: string): string[] | undefined;
  has(name: string): boolean;
  set(name: string, value: string[]): unknown;
  delete(name: string): boolean;
}

/** The request parts the extractor reads and edits (a scratch view during verification). */
export interface TokenSource {
  headers: HeaderView;
  path: string;
}

class IssuerCheck {
  private all = false;
  private readonly issuers = new Set<string>();
  add(issuer: string): void {
    if (issuer === '') this.all = true;
    else this.issuers.add(issuer);
  }

  allows(iss: string): boolean {
    return this.all || this.issuers.has(iss);
  }
}

export interface TokenLocation {
  readonly token: string;
  issuerAllowed(iss: string): boolean;
  remove(src: TokenSource): void;
}

const TOKEN_CHARS = /[A-Za-z0-9\-_.]/;

/** After the prefix: from the first base64url-or-dot character to the end (the whole value when none). */
function afterPrefix(value: string, from: number): string {
  for (let i = from; i < value.length; i++) if (TOKEN_CHARS.test(value[i]!)) return value.slice(i);
  return value;
}

function decodeQueryPart(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Query parameters, percent-decoded; the first value of a name wins. */
function queryParams(path: string): Map<string, string> {
  const out = new Map<string, string>();
  const q = path.indexOf('?');
  if (q < 0) return out;
  const end = path.indexOf('#', q);
  for (const part of path.slice(q + 1, end < 0 ? undefined : end).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodeQueryPart(eq < 0 ? part : part.slice(0, eq));
    if (!out.has(name)) out.set(name, decodeQueryPart(eq < 0 ? '' : part.slice(eq + 1)));
  }
  return out;
}

function removeQueryParam(path: string, name: string): string {
  const q = path.indexOf('?');
  if (q < 0) return path;
  const hash = path.indexOf('#', q);
  const query = path.slice(q + 1, hash < 0 ? undefined : hash);
  const kept = query.split('&').filter((part) => {
    if (part === '') return false;
    const eq = part.indexOf('=');
    return decodeQueryPart(eq < 0 ? part : part.slice(0, eq)) !== name;
  });
  return path.slice(0, q) + (kept.length > 0 ? '?' + kept.join('&') : '') + (hash < 0 ? '' : path.slice(hash));
}

function cookies(headers: HeaderView): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of headers.get('cookie') ?? []) {
    for (const pair of line.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      let value = pair.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (!out.has(name)) out.set(name, value);
    }
  }
  return out;
}

interface HeaderSpec { name: string; prefix: string; check: IssuerCheck }

/** A token from a header (the usual case, met on every request that carries one: no closures per token). */
class HeaderToken implements TokenLocation {
  readonly token: string;
  private readonly spec: HeaderSpec;
  constructor(token: string, spec: HeaderSpec) {
    this.token = token;
    this.spec = spec;
  }

  issuerAllowed(iss: string): boolean {
    return this.spec.check.allows(iss);
  }

  remove(src: TokenSource): void {
    src.headers.delete(this.spec.name);
  }
}

export class Extractor {
  private readonly headerSpecs: HeaderSpec[];
  private readonly params: Array<[string, IssuerCheck]>;
  private readonly cookieNames: Array<[string, IssuerCheck]>;
  /** forward_payload_header and claim_to_headers names, cleared before extraction. */
  readonly sanitize: readonly string[];

  constructor(providers: readonly Obj[]) {
    const headers = new Map<string, HeaderSpec>();
    const params = new Map<string, IssuerCheck>();
    const cookieNames = new Map<string, IssuerCheck>();
    const sanitize: string[] = [];
    const addHeader = (issuer: string, name: string, prefix: string) => {
      const key = name + prefix;
      let spec = headers.get(key);
      if (!spec) headers.set(key, (spec = { name, prefix, check: new IssuerCheck() }));
      spec.check.add(issuer);
    };
    const addTo = (m: Map<string, IssuerCheck>, name: string, issuer: string) => {
      let c = m.get(name);
      if (!c) m.set(name, (c = new IssuerCheck()));
      c.add(issuer);
    };
    for (const p of providers) {
      const issuer = str(p.issuer);
      const fromHeaders = arr(p.fromHeaders);
      const fromParams = strs(p.fromParams);
      const fromCookies = strs(p.fromCookies);
      for (const h of fromHeaders) addHeader(issuer, str(h.name).toLowerCase(), str(h.valuePrefix));
      for (const name of fromParams) addTo(params, name, issuer);
      for (const name of fromCookies) addTo(cookieNames, name, issuer);
      if (fromHeaders.length === 0 && fromParams.length === 0 && fromCookies.length === 0) {
        addHeader(issuer, 'authorization', 'Bearer ');
        addTo(params, 'access_token', issuer);
      }
      if (str(p.forwardPayloadHeader)) sanitize.push(str(p.forwardPayloadHeader).toLowerCase());
      for (const c of arr(p.claimToHeaders)) if (str(c.headerName)) sanitize.push(str(c.headerName).toLowerCase());
    }
    const byKey = <T>(m: Map<string, T>) => [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.headerSpecs = byKey(headers).map(([, s]) => s);
    this.params = byKey(params);
    this.cookieNames = byKey(cookieNames);
    this.sanitize = sanitize;
  }

  /** Whether `extract` finds any token (a header's without building the list; query and cookies through it). */
  any(src: TokenSource): boolean {
    for (const spec of this.headerSpecs) {
      const values = src.headers.get(spec.name);
      if (!values) continue;
      for (let i = 0; i < values.length; i++) if (spec.prefix === '' || values[i]!.includes(spec.prefix)) return true;
    }
    if ((this.params.length > 0 && src.path.includes('?')) || (this.cookieNames.length > 0 && src.headers.has('cookie'))) {
      return this.extract(src).length > 0;
    }
    return false;
  }

  /** The tokens of a request, in Envoy's order (none parsed yet). */
  extract(src: TokenSource): TokenLocation[] {
    const out: TokenLocation[] = [];
    for (const spec of this.headerSpecs) {
      const values = src.headers.get(spec.name);
      if (!values) continue;
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        let token = v;
        if (spec.prefix !== '') {
          const pos = v.indexOf(spec.prefix);
          if (pos < 0) continue;
          token = afterPrefix(v, pos + spec.prefix.length);
        }
        out.push(new HeaderToken(token, spec));
      }
    }
    if (this.params.length > 0 && src.path.includes('?')) {
      const q = queryParams(src.path);
      for (const [name, check] of this.params) {
        const v = q.get(name);
        if (v === undefined) continue;
        out.push({ token: v, issuerAllowed: (iss) => check.allows(iss), remove: (s) => { s.path = removeQueryParam(s.path, name); } });
      }
    }
    if (this.cookieNames.length > 0 && src.headers.has('cookie')) {
      const c = cookies(src.headers);
      for (const [name, check] of this.cookieNames) {
        const v = c.get(name);
        if (v !== undefined) out.push({ token: v, issuerAllowed: (iss) => check.allows(iss), remove: () => {} });
      }
    }
    return out;
  }
}
