// Raw JSON requests to the API server with a KubeConfig's credentials and TLS settings.
// In: method, path, query, body. Out: the parsed JSON body, or a `KubeHttpError` carrying the HTTP status.
// Used for list calls so listed objects have exactly the shape watch events have (plain JSON, no class
// instances or Date objects from the typed clients).
import { HttpMethod, RequestContext, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { fetch } from 'undici';

export class KubeHttpError extends Error {
  readonly statusCode: number;
  /** Same as statusCode; ListWatch looks at `code` for 410 Gone. */
  readonly code: number;
  readonly reason: string | undefined;
  constructor(statusCode: number, message: string, reason?: string) {
    super(message);
    this.name = 'KubeHttpError';
    this.statusCode = statusCode;
    this.code = statusCode;
    this.reason = reason;
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
}

export async function getJson<T>(kc: KubeConfig, path: string, opts: RequestOptions = {}): Promise<T> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  const ctx = new RequestContext(url.toString(), HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  const res = await fetch(url, {
    method: 'GET',
    headers: { ...ctx.getHeaders(), accept: 'application/json' },
    dispatcher: ctx.getDispatcher(),
    signal: opts.signal ?? null,
  });
  const text = await res.text();
  if (res.status < 200 || res.status >= 300) throw statusError(res.status, res.statusText, text);
  return JSON.parse(text) as T;
}

/** The error for a non-2xx answer, with the message and reason of the API server's Status body when it sent one. */
export function statusError(status: number, statusText: string, body: string): KubeHttpError {
  let message = `${status} ${statusText}`;
  let reason: string | undefined;
  try {
    const st = JSON.parse(body) as { message?: string; reason?: string };
    if (st.message) message = st.message;
    reason = st.reason;
  } catch {
    // not a Status object
  }
  return new KubeHttpError(status, message, reason);
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Items per page (default 500); pages are followed with `continue` into one consistent list. */
  pageSize?: number;
  signal?: AbortSignal;
}

export async function listAll<T extends KubernetesObject>(kc: KubeConfig, path: string, opts: ListOptions = {}): Promise<KubernetesListObject<T>> {
  const items: T[] = [];
  let cont: string | undefined;
  let last: KubernetesListObject<T>;
  do {
    last = await getJson<KubernetesListObject<T>>(kc, path, {
      query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: opts.pageSize ?? 500, continue: cont },
      signal: opts.signal,
    });
    items.push(...(last.items ?? []));
    // Plain JSON: the field is `continue` (the typed models call it `_continue`).
    cont = (last.metadata as { continue?: string } | undefined)?.continue || undefined;
  } while (cont);
  // Built-in kinds omit apiVersion/kind on list items; watch events carry them, so make both look alike.
  const kind = last.kind?.replace(/List$/, '');
  for (const it of items) {
    it.apiVersion ??= last.apiVersion;
    if (kind) it.kind ??= kind;
  }
  return { ...last, items };
}
