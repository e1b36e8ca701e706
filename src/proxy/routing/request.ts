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
