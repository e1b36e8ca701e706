// How ext_authz (the HTTP filter and the network filter) reaches its authorizer: through the sidecar's own cluster
// manager, so the authorizer's endpoints, load balancing, circuit breakers and (m)TLS follow the mesh like any
// upstream. In: a cluster name and one request (method, path, headers, body, timeout, HTTP/2 or not, an optional
// abort signal for a downstream that went away); out: the complete response (status, headers, body, trailers) or
// an AuthorizerError saying why there is none (no cluster, overflow, no healthy host, connection failure, timeout,
// cancelled). Outcomes are reported to the cluster for outlier detection (a cancelled call reports nothing).
import type { IncomingHttpHeaders } from 'node:http';
import type { Runtime } from '../runtime.ts';

export interface AuthorizerRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
  timeoutMs: number;
  http2: boolean;
  /** Aborts the call (the connection being authorized closed). */
  signal?: AbortSignal;
}

export interface AuthorizerResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  trailers: Record<string, string | string[] | undefined>;
}

export class AuthorizerError extends Error {
  readonly reason: 'no-cluster' | 'overflow' | 'no-host' | 'failure' | 'timeout' | 'cancelled';
  constructor(reason: AuthorizerError['reason'], message: string) {
    super(message);
    this.reason = reason;
  }
}

export async function callAuthorizer(runtime: Runtime, clusterName: string, r: AuthorizerRequest): Promise<AuthorizerResponse> {
  const cluster = runtime.clusters.get(clusterName);
  if (!cluster) throw new AuthorizerError('no-cluster', `cluster ${clusterName} not found`);
  const release = cluster.admitRequest();
  if (!release) throw new AuthorizerError('overflow', `cluster ${clusterName} overflow`);
  const host = cluster.pick({});
  if (!host) {
    release();
    throw new AuthorizerError('no-host', `no healthy upstream in ${clusterName}`);
  }
  const started = runtime.now();
  const abort = new AbortController();
  let timedOut = false;
  const timer = r.timeoutMs > 0 ? setTimeout(() => { timedOut = true; abort.abort(); }, r.timeoutMs) : undefined;
  const cancel = () => abort.abort();
  r.signal?.addEventListener('abort', cancel, { once: true });
  if (r.signal?.aborted) abort.abort();
  try {
    const authority = r.headers.host ?? r.headers[':authority'];
    const d = cluster.dispatcher(host, r.http2 ? 'http2' : 'http1', typeof authority === 'string' ? authority : undefined);
    const res = await d.request({
      path: r.path, method: r.method as 'GET', headers: r.headers, body: r.body ?? null, signal: abort.signal,
    });
    const body = Buffer.from(await res.body.arrayBuffer());
    cluster.report(host, { kind: 'response', status: res.statusCode, latencyMs: runtime.now() - started });
    return { status: res.statusCode, headers: res.headers as IncomingHttpHeaders, body, trailers: res.trailers };
  } catch (err) {
    const latencyMs = runtime.now() - started;
    if (!timedOut && r.signal?.aborted) throw new AuthorizerError('cancelled', `authorizer ${clusterName}: call cancelled`);
    if (timedOut) {
      cluster.report(host, { kind: 'timeout', latencyMs });
      throw new AuthorizerError('timeout', `authorizer ${clusterName} timed out after ${r.timeoutMs} ms`);
    }
    cluster.report(host, { kind: 'connect-failure', latencyMs });
    throw new AuthorizerError('failure', `authorizer ${clusterName}: ${(err as Error).message}`);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    r.signal?.removeEventListener('abort', cancel);
    release();
  }
}
