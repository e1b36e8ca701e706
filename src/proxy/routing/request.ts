// An HTTP request as the router reads it: pseudo-headers (:authority, :path, :method, :scheme) and lowercase
// header names with all their values; query string parsing and path helpers with Envoy's rules.
import { bool, u32 } from './envoy-values.ts';
import type { Obj } from './envoy-values.ts';

export interface HttpRequest {
  method: string;
  scheme: string;
  /** x-forwarded-proto as the connection manager sets it: the scheme the proxy saw the request on. */
  forwardedProto: string;
  authority: string;
  path: string;
  /** Regular headers by lowercase name (no pseudo-headers). */
  headers: Map<string, string[]>;
}

export function makeHttpRequest(r: {
  method?: string; scheme?: string; host?: string; path?: string; headers?: Record<string, string | string[]>;
}): HttpRequest {
  const headers = new Map<string, string[]>();
  let authority = r.host ?? '';
  for (const [k, v] of Object.entries(r.headers ?? {})) {
    const name = k.toLowerCase();
    const values = Array.isArray(v) ? v.map(String) : [String(v)];
    // HTTP/1 Host is :authority to the router.
    if (name === 'host' || name === ':authority') {
      if (!r.host) authority = values[0] ?? '';
      continue;
    }
    headers.set(name, [...(headers.get(name) ?? []), ...values]);
  }
  const scheme = r.scheme ?? 'http';
  return { method: r.method ?? 'GET', scheme, forwardedProto: scheme, authority, path: r.path ?? '/', headers };
}

/**
 * An edge connection manager (use_remote_address with no trusted hops, as on gateways) does not believe the
 * client's x-forwarded-proto: it sets it to the connection's own scheme, so `require_tls` cannot be talked out of
 * its redirect by a header.
 */
export function edgeForwardedProto(hcm: Obj | undefined): boolean {
  return hcm !== undefined && bool(hcm.useRemoteAddress, false) && (u32(hcm.xffNumTrustedHops) ?? 0) === 0;
}

/** Envoy's getAllOfHeaderAsString: several values joined by ','; undefined when absent. */
export function headerValue(req: HttpRequest, name: string): string | undefined {
  switch (name) {
    case ':authority': return req.authority || undefined;
    case ':path': return req.path;
    case ':method': return req.method;
    case ':scheme': return req.scheme;
  }
  const v = req.headers.get(name);
  return v && v.length > 0 ? v.join(',') : undefined;
}

/** The path without query string and fragment (what path matchers and regex rewrites look at). */
export function pathOnly(path: string): string {
  const q = path.search(/[?#]/);
  return q < 0 ? path : path.slice(0, q);
}

/** Query parameters as Envoy parses them for route matching: not URL-decoded; the first value of a name wins. */
export function parseQuery(path: string): Map<string, string> {
  const out = new Map<string, string>();
  const q = path.indexOf('?');
  if (q < 0) return out;
  for (const part of path.slice(q + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (!out.has(name)) out.set(name, eq < 0 ? '' : part.slice(eq + 1));
  }
  return out;
}

/** RFC 3986 remove_dot_segments on the path part (the connection manager's normalize_path). */
export function normalizePath(path: string, mergeSlashes: boolean): string {
  const cut = path.search(/[?#]/);
  let p = cut < 0 ? path : path.slice(0, cut);
  const rest = cut < 0 ? '' : path.slice(cut);
  if (mergeSlashes) p = p.replace(/\/{2,}/g, '/');
  const out: string[] = [];
  const segments = p.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '.') {
      if (i === segments.length - 1) out.push('');
    } else if (s === '..') {
      out.pop();
      if (i === segments.length - 1) out.push('');
    } else {
      out.push(s);
    }
  }
  return '/' + out.join('/') + rest;
}

/** The connection manager's path_with_escaped_slashes_action (IMPLEMENTATION_SPECIFIC_DEFAULT is KEEP_UNCHANGED). */
export type EscapedSlashesAction = 'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';

const ESCAPED_SLASHES_ACTIONS: readonly string[] = ['IMPLEMENTATION_SPECIFIC_DEFAULT', 'KEEP_UNCHANGED', 'REJECT_REQUEST', 'UNESCAPE_AND_REDIRECT', 'UNESCAPE_AND_FORWARD'];

export function escapedSlashesAction(v: unknown): EscapedSlashesAction {
  const name = typeof v === 'number' ? ESCAPED_SLASHES_ACTIONS[v] : v;
  switch (name) {
    case 'REJECT_REQUEST': case 'UNESCAPE_AND_REDIRECT': case 'UNESCAPE_AND_FORWARD': return name;
    default: return 'KEEP_UNCHANGED';
  }
}

/** %2F/%2f → '/', %5C/%5c → '\' in the path part; undefined when there are none. */
export function unescapeSlashes(path: string): string | undefined {
  const q = path.indexOf('?');
  const p = q < 0 ? path : path.slice(0, q);
  if (!/%(2f|5c)/i.test(p)) return undefined;
  return p.replace(/%2f/gi, '/').replace(/%5c/gi, '\\') + (q < 0 ? '' : path.slice(q));
}

// Characters the canonical path keeps percent-encoded or encodes (Chromium's path table, which Envoy's
// normalize_path uses): controls, space, " # < > ` { | } ^, DEL and everything above ASCII.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
const MUST_ESCAPE = /[\x00-\x20"#<>`{|}^\x7f-\uffff]/;
// eslint-disable-next-line no-control-regex -- as above, plus what canonicalisation rewrites (%, \, segments starting with a dot)
const NEEDS_WORK = /[%\\\x00-\x20"#<>`{|}^\x7f-\uffff]|\/\./;

function isUnreserved(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

const pct = (b: number): string => `%${b < 16 ? '0' : ''}${b.toString(16).toUpperCase()}`;

/**
 * Envoy's normalize_path (Chromium's path canonicalisation) on the path part; the query string is kept as is:
 * percent-encoded unreserved characters decoded (%61 → a, %2e → .), other escapes kept with upper-case hex,
 * backslashes turned into slashes, characters that may not appear raw percent-encoded, then dot segments
 * resolved. Case is not changed. Undefined when the path is invalid (a NUL byte): the request gets 400.
 */
export function canonicalPath(path: string): string | undefined {
  const q = path.indexOf('?');
  let p = q < 0 ? path : path.slice(0, q);
  const rest = q < 0 ? '' : path.slice(q);
  if (!NEEDS_WORK.test(p)) return path;
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 0) return undefined;
    if (c === 0x5c) {
      out += '/';
    } else if (c === 0x25) {
      const h = i + 2 < p.length ? hexValue(p.charCodeAt(i + 1)) : -1;
      const l = h >= 0 ? hexValue(p.charCodeAt(i + 2)) : -1;
      if (l < 0) {
        out += '%';
        continue;
      }
      const b = h * 16 + l;
      if (b === 0) return undefined;
      out += isUnreserved(b) ? String.fromCharCode(b) : pct(b);
      i += 2;
    } else if (MUST_ESCAPE.test(p[i]!)) {
      for (const b of Buffer.from(p[i]!, c > 0xff ? 'utf8' : 'latin1')) out += pct(b);
    } else {
      out += p[i];
    }
  }
  p = out;
  return normalizePath(p, false) + rest;
}

/** merge_slashes: runs of slashes in the path part become one. */
export function mergePathSlashes(path: string): string {
  const q = path.search(/[?#]/);
  const p = q < 0 ? path : path.slice(0, q);
  return p.includes('//') ? p.replace(/\/{2,}/g, '/') + (q < 0 ? '' : path.slice(q)) : path;
}
