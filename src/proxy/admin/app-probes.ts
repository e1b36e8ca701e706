// Application probes through the sidecar (Istio's 15020 `/app-health/...`). In: the probes the injector moved off
// the app containers (env WEFT_APP_PROBERS: path → the original httpGet probe), and a kubelet request for one of
// those paths. Out: the app's own answer over loopback — its status code, or 500 when it cannot be reached in
// time. The kubelet reaches this port directly (never captured), so app probes work under STRICT mTLS.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export const APP_PROBERS_ENV = 'WEFT_APP_PROBERS';

export interface AppProber {
  httpGet: { path?: string; port: number; host?: string; scheme?: string; httpHeaders?: Array<{ name: string; value: string }> };
  timeoutSeconds?: number;
}

/** The probers from the env value; entries that are not httpGet probes with a numeric port are dropped. */
export function parseProbers(json: string | undefined): Map<string, AppProber> {
  const out = new Map<string, AppProber>();
  if (!json) return out;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return out;
  }
  for (const [path, p] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    const get = (p as { httpGet?: { port?: unknown } } | null)?.httpGet;
    if (get && typeof get.port === 'number') out.set(path, p as AppProber);
  }
  return out;
}

/** Runs the probe against the app; resolves with the status code to answer the kubelet with. */
export function probeApp(p: AppProber): Promise<number> {
  const g = p.httpGet;
  const https = (g.scheme ?? 'HTTP').toUpperCase() === 'HTTPS';
  const headers: Record<string, string> = {};
  for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
  // The kubelet's default probe timeout is one second.
  const timeout = (p.timeoutSeconds ?? 1) * 1000;
  return new Promise((resolve) => {
    const req = (https ? httpsRequest : httpRequest)({
      host: g.host || '127.0.0.1',
      port: g.port,
      path: g.path || '/',
      method: 'GET',
      headers,
      timeout,
      // Like the kubelet, an HTTPS probe does not verify the app's certificate.
      ...(https ? { rejectUnauthorized: false } : {}),
    }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 500);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(500));
    req.end();
  });
}
