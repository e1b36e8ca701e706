// Header plumbing between the downstream server objects, the routing core and undici. In: node's parsed request
// headers (lowercase names; HTTP/2 pseudo-headers); out: the routing core's HttpRequest, the upstream header set
// without hop-by-hop headers, and downstream response headers with the route's response header operations.
import type { IncomingHttpHeaders } from 'node:http';
import type { HttpRequest } from '../routing/request.ts';
import type { HeaderOp } from '../routing/types.ts';

export type HeaderBag = Record<string, string | string[] | undefined>;

/** Connection-specific headers never forwarded (and refused by HTTP/2). */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'http2-settings', 'host',
]);

/**
 * The routing core's view of a downstream request. `untrusted` drops x-envoy-* headers, which only the proxy
 * (or a trusted local application) may set; `edge` replaces x-forwarded-proto with the scheme.
 */
export function toHttpRequest(
  h: IncomingHttpHeaders, method: string, path: string, scheme: string, untrusted: boolean, edge = false,
): HttpRequest {
  const headers = new Map<string, string[]>();
  let authority = '';
  for (const name in h) {
    const v = h[name];
    if (v === undefined) continue;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority') authority = v as string;
      continue;
    }
    if (name === 'host') {
      if (authority === '') authority = v as string;
      continue;
    }
    if (untrusted && name.startsWith('x-envoy-')) continue;
    headers.set(name, typeof v === 'string' ? [v] : v);
  }
  if (edge) headers.set('x-forwarded-proto', [scheme]);
  const xfp = headers.get('x-forwarded-proto')?.[0];
  return { method, scheme, forwardedProto: xfp ?? scheme, authority, path, headers };
}

/** Tokens of the Connection header name more hop-by-hop headers. */
function connectionTokens(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  const s = typeof v === 'string' ? v : v.join(',');
  const out: string[] = [];
  for (const t of s.split(',')) {
    const n = t.trim().toLowerCase();
    if (n && n !== 'close' && n !== 'keep-alive') out.push(n);
  }
  return out;
}

/** Removes hop-by-hop headers (and those named by Connection) from a header bag in place. `keepTe` keeps
 * `te: trailers`, which gRPC needs end to end. */
export function stripHopByHop(h: HeaderBag, keepTe: boolean): void {
  const conn = h.connection;
  if (conn !== undefined) for (const t of connectionTokens(conn)) delete h[t];
  const te = h.te;
  for (const name of HOP_BY_HOP) if (h[name] !== undefined) delete h[name];
  if (keepTe && typeof te === 'string' && te.toLowerCase().includes('trailers')) h.te = 'trailers';
}

/**
 * A copy of `h` without hop-by-hop headers (and those named by Connection); `keepTe` keeps `te: trailers`.
 * `request` also drops pseudo-headers and Expect (the proxy answers 100-continue itself). Copying keeps the
 * object in V8's fast mode, which deleting properties in place does not (every later access pays for it).
 */
export function withoutHopByHop(h: HeaderBag, keepTe: boolean, request: boolean): HeaderBag {
  const conn = h.connection;
  // The usual values name no other header.
  const named = conn === undefined || conn === 'keep-alive' || conn === 'close' ? undefined : connectionTokens(conn);
  const out: HeaderBag = {};
  for (const k in h) {
    const v = h[k];
    if (v === undefined || HOP_BY_HOP.has(k)) continue;
    if (request && (k.charCodeAt(0) === 58 /* : */ || k === 'expect')) continue;
    if (named !== undefined && named.length > 0 && named.includes(k)) continue;
    out[k] = v;
  }
  const te = h.te;
  if (keepTe && typeof te === 'string' && te.toLowerCase().includes('trailers')) out.te = 'trailers';
  return out;
}

function append(h: HeaderBag, name: string, value: string): void {
  const cur = h[name];
  if (cur === undefined) h[name] = value;
  else if (typeof cur === 'string') h[name] = [cur, value];
  else h[name] = [...cur, value];
}

/** Applies flattened header operations (HeaderOp from route-action) in order. */
export function applyHeaderOps(h: HeaderBag, ops: readonly HeaderOp[]): void {
  for (const op of ops) {
    const present = h[op.name] !== undefined;
    const value = op.value ?? '';
    switch (op.op) {
      case 'remove': delete h[op.name]; break;
      case 'set': h[op.name] = value; break;
      case 'append': append(h, op.name, value); break;
      case 'add-if-absent': if (!present) h[op.name] = value; break;
      case 'overwrite-if-exists': if (present) h[op.name] = value; break;
    }
  }
}

/** Envoy's shadow host: `-shadow` appended to the host, before any port. */
export function shadowAuthority(authority: string): string {
  const colon = authority.lastIndexOf(':');
  const bracket = authority.lastIndexOf(']');
  if (colon > bracket && colon > 0) return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
  return `${authority}-shadow`;
}

export function firstValue(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : v?.[0];
}
