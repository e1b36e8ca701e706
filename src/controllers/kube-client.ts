// Raw JSON requests to the API server over one pooled connection set.
// In: a KubeConfig. Out: `request()` (any verb, any content type) and a metadata-only list and watch for the
// Informer's seams. client-node builds a new connection pool per request; a writer that sends hundreds of
// ConfigMaps in a burst should not pay a TLS handshake for each, so the dispatcher is made once and kept, while
// credentials are applied per request (tokens rotate).
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { HttpMethod, RequestContext, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { fetch, type Dispatcher } from 'undici';
import type { ListFn, WatchFn } from './informer.ts';

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

/** Ask for `PartialObjectMetadata`: names, labels, annotations, owners, resourceVersion; no data. */
export const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
export const METADATA_ONE = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

export interface KubeRequest {
  query?: Record<string, string | number | boolean | undefined>;
  /** Serialized as JSON. */
  body?: unknown;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Items per page (default 500). */
  pageSize?: number;
  accept?: string;
  signal?: AbortSignal;
}

/** Client-side watch timeout, as client-node's: ListWatch reconnects at once after a TimeoutError. */
const WATCH_IDLE_MS = 30_000;

export class KubeClient {
  private readonly kc: KubeConfig;
  private dispatcher: Dispatcher | undefined;

  constructor(kc: KubeConfig) {
    this.kc = kc;
  }

  private async prepare(method: HttpMethod, path: string, query: KubeRequest['query']): Promise<{ url: URL; headers: Record<string, string> }> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), method);
    await this.kc.applySecurityAuthentication(ctx);
    this.dispatcher ??= ctx.getDispatcher() as Dispatcher | undefined;
    return { url, headers: ctx.getHeaders() };
  }

  /** Sends a request; resolves with the parsed body of a 2xx answer, throws KubeHttpError otherwise. */
  async request<T = unknown>(method: HttpMethod, path: string, req: KubeRequest = {}): Promise<T> {
    const { url, headers } = await this.prepare(method, path, req.query);
    const res = await fetch(url, {
      method,
      headers: {
        ...headers,
        accept: req.accept ?? 'application/json',
        ...(req.body !== undefined ? { 'content-type': req.contentType ?? 'application/json' } : {}),
      },
      body: req.body === undefined ? null : JSON.stringify(req.body),
      dispatcher: this.dispatcher,
      signal: req.signal ?? null,
    });
    const text = await res.text();
    if (res.status < 200 || res.status >= 300) throw statusError(res.status, res.statusText, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A list, its pages followed with `continue` into one consistent list. */
  async list<T extends KubernetesObject>(path: string, opts: ListOptions = {}): Promise<KubernetesListObject<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let last: KubernetesListObject<T>;
    do {
      last = await this.request<KubernetesListObject<T>>(HttpMethod.GET, path, {
        query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: opts.pageSize ?? 500, continue: cont },
        accept: opts.accept,
        signal: opts.signal,
      });
      items.push(...(last.items ?? []));
      // Plain JSON: the field is `continue` (the typed models call it `_continue`).
      cont = (last.metadata as { continue?: string } | undefined)?.continue || undefined;
    } while (cont);
    return { ...last, items };
  }

  /** A paged list of object metadata, for `InformerOptions.list`. */
  metadataList<T extends KubernetesObject>(path: string, opts: { labelSelector?: string; pageSize?: number } = {}): ListFn<T> {
    return (signal) => this.list<T>(path, { ...opts, accept: METADATA_LIST, signal });
  }

  /** A watch stream of object metadata, for `InformerOptions.watch`. */
  metadataWatch(): WatchFn {
    return async (path, query, callback, done) => {
      const controller = new AbortController();
      let finished = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (err: unknown): void => {
        if (finished) return;
        finished = true;
        if (timer) clearTimeout(timer);
        controller.abort();
        done(err);
      };
      const idle = (): void => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => finish(new DOMException('watch idle', 'TimeoutError')), WATCH_IDLE_MS);
        timer.unref();
      };
      try {
        idle();
        const { url, headers } = await this.prepare(HttpMethod.GET, path, { ...query, watch: true });
        const res = await fetch(url, { method: 'GET', headers: { ...headers, accept: METADATA_ONE }, dispatcher: this.dispatcher, signal: controller.signal });
        if (res.status !== 200 || !res.body) {
          await res.body?.cancel();
          throw new KubeHttpError(res.status, `watch ${path}: ${res.status} ${res.statusText}`);
        }
        idle();
        const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
        body.on('data', idle);
        body.on('error', finish);
        const lines = createInterface({ input: body });
        lines.on('error', finish);
        lines.on('line', (line) => {
          let ev: { type?: string; object?: unknown };
          try {
            ev = JSON.parse(line) as { type?: string; object?: unknown };
          } catch {
            return;
          }
          if (ev.type) callback(ev.type, ev.object, ev);
        });
        lines.on('close', () => finish(null));
      } catch (err) {
        finish(err);
      }
      return controller;
    };
  }
}
