// Shared plumbing for the example apps: the JSON identity every answer carries, the peer identity read from the
// sidecar's x-forwarded-client-cert header, trace-header forwarding, bounded upstream calls, and a server that
// listens on $PORT and exits cleanly on SIGTERM. Node builtins only.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

// The headers Istio's bookinfo forwards so traces and user-based routing follow a request across services.
export const FORWARDED_HEADERS = [
  'x-request-id', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3',
  'traceparent', 'tracestate', 'end-user',
];

// Splits on `sep` outside double quotes (XFCC values may quote commas and semicolons).
function splitUnquoted(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && quoted && i + 1 < s.length) { cur += c + s[++i]; continue; }
    if (c === '"') quoted = !quoted;
    if (c === sep && !quoted) { out.push(cur); cur = ''; } else cur += c;
  }
  out.push(cur);
  return out;
}

// The URI SAN of the last (nearest) element of an x-forwarded-client-cert header, or null.
export function peerOf(xfcc: string | string[] | undefined): string | null {
  const header = Array.isArray(xfcc) ? xfcc.join(',') : xfcc;
  if (!header) return null;
  const last = splitUnquoted(header, ',').at(-1) ?? '';
  for (const pair of splitUnquoted(last, ';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim().toLowerCase() !== 'uri') continue;
    let v = pair.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    return v || null;
  }
  return null;
}

export function identity(service: string, req: IncomingMessage): Record<string, unknown> {
  return {
    service,
    version: process.env.APP_VERSION ?? null,
    pod: process.env.HOSTNAME ?? null,
    peer: peerOf(req.headers['x-forwarded-client-cert']),
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_HEADERS) {
    const v = req.headers[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}

// The URL of `<kind>/<id>` on an upstream: `base` from the env is either a bare origin (the path is appended)
// or already names the path prefix (only the id is appended).
export function upstreamUrl(envValue: string | undefined, fallback: string, kind: string, id: string): string {
  const base = new URL(envValue || fallback);
  const prefix = base.pathname.replace(/\/+$/, '');
  base.pathname = prefix ? `${prefix}/${encodeURIComponent(id)}` : `/${kind}/${encodeURIComponent(id)}`;
  return base.toString();
}

// Calls an upstream with a bounded wait. Success yields its JSON body; failure yields {error, status[, body]}.
export async function callUpstream(url: string, headers: Record<string, string>, timeoutMs = 5000): Promise<unknown> {
  try {
    const r = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    const text = await r.text();
    let body: unknown = text;
    try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
    if (r.ok) return body;
    return { error: `upstream answered ${r.status}`, status: r.status, body };
  } catch (err) {
    return { error: (err as Error).message, status: null };
  }
}

// Listens on 0.0.0.0:$PORT (default 9080); SIGTERM/SIGINT close the server and exit 0. With TLS_CERT_FILE and
// TLS_KEY_FILE it serves HTTPS with that certificate instead (a TLS backend behind a passthrough gateway, or an
// external server for TLS origination).
export function serve(service: string, handler: Handler): http.Server {
  const port = Number(process.env.PORT || 9080);
  const tls = process.env.TLS_CERT_FILE && process.env.TLS_KEY_FILE
    ? { cert: readFileSync(process.env.TLS_CERT_FILE), key: readFileSync(process.env.TLS_KEY_FILE) }
    : undefined;
  const create = tls ? (h: http.RequestListener) => https.createServer(tls, h) : (h: http.RequestListener) => http.createServer(h);
  const server = create((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    Promise.resolve(handler(req, res, url)).catch((err: Error) => {
      if (!res.headersSent) sendJson(res, 500, { ...identity(service, req), error: err.message });
      else res.destroy();
    });
  });
  server.listen(port, '0.0.0.0', () => {
    console.log(`${service} ${process.env.APP_VERSION ?? ''} listening on 0.0.0.0:${port}${tls ? ' (TLS)' : ''}`);
  });
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return server;
}
