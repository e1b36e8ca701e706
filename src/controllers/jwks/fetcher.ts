// Fetches the JSON Web Key Sets RequestAuthentication jwtRules name by `jwksUri`, as istiod does for its proxies,
// so translation can inline them (MeshOptions.jwks).
// In: the URIs wanted (`want`, with each one's fetch timeout), timers, an HTTP getter (undici by default). A
// jwtRule without jwksUri names its issuer instead, whose keys are discovered as istiod does: the `jwks_uri` of
// `<issuer>/.well-known/openid-configuration` (OpenID Connect discovery); they are filed under the issuer.
// Out: `get(uri)`/`all()` — the keys last fetched (normalized JSON) and when, or why there are none — and
// `onChange(uris)` whenever what a URI yields changes (new keys, keys gone, an error first seen or its text
// changed). A refresh that fetches the same keys is no change, so nothing is translated again for it.
// Each URI is fetched when first wanted, refreshed every `refreshMs` (Istio: 20 min), and after a failure retried
// with exponential backoff; a failed refresh keeps the keys fetched before (they are still the issuer's best known
// keys), and only a URI that never yielded keys reports the error.
import { fetch as undiciFetch } from 'undici';
import { silentLogger, type Logger } from '../log.ts';
import { expBackoff, realTimers, type Timers } from '../timers.ts';
import type { JwksFetch } from '../../model/types.ts';

/** GETs `uri`; resolves with the body text, throws on a non-2xx answer, a body over `maxBytes`, or the signal. */
export type HttpGet = (uri: string, opts: { signal: AbortSignal; maxBytes: number }) => Promise<string>;

export interface JwksFetcherOptions {
  /** How often keys are fetched again (default 20 min, as istiod's PILOT_JWT_PUB_KEY_REFRESH_INTERVAL). */
  refreshMs?: number;
  /** Fetch timeout when the jwtRule gives none (default 5 s). */
  timeoutMs?: number;
  /** Largest key set accepted (default 1 MiB). */
  maxBytes?: number;
  /** Backoff after failures: base (default 1 s) doubling to max (default 5 min, never beyond refreshMs). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  timers?: Timers;
  get?: HttpGet;
  log?: Logger;
  onChange?: (uris: string[]) => void;
}

/** What to fetch for one key: its fetch timeout (ms; undefined for the default), and whether the key is an issuer
 * whose key set is found through OpenID Connect discovery. */
export interface JwksWant {
  timeoutMs?: number;
  discover?: boolean;
}

interface Entry {
  timeoutMs: number;
  discover: boolean;
  state?: JwksFetch;
  failures: number;
  timer?: unknown;
  inFlight?: AbortController;
}

export class JwksFetcher {
  private readonly o: Required<Omit<JwksFetcherOptions, 'onChange' | 'log' | 'timers' | 'get'>>;
  private readonly timers: Timers;
  private readonly get_: HttpGet;
  private readonly log: Logger;
  private readonly onChange: (uris: string[]) => void;
  private readonly entries = new Map<string, Entry>();
  private stopped = false;
  private readonly running = new Set<Promise<void>>();

  constructor(opts: JwksFetcherOptions = {}) {
    this.o = {
      refreshMs: opts.refreshMs ?? 20 * 60_000,
      timeoutMs: opts.timeoutMs ?? 5_000,
      maxBytes: opts.maxBytes ?? 1 << 20,
      retryBaseMs: opts.retryBaseMs ?? 1_000,
      retryMaxMs: opts.retryMaxMs ?? 5 * 60_000,
    };
    this.timers = opts.timers ?? realTimers;
    this.get_ = opts.get ?? undiciGet;
    this.log = opts.log ?? silentLogger;
    this.onChange = opts.onChange ?? (() => {});
  }

  /** The URIs wanted now, with their fetch timeout (ms; undefined for the default). New ones are fetched at once;
   * ones no longer wanted are forgotten (reported as changed: their keys are gone). */
  want(uris: ReadonlyMap<string, JwksWant>): void {
    if (this.stopped) return;
    const gone: string[] = [];
    for (const [uri, e] of this.entries) {
      if (uris.has(uri)) continue;
      this.drop(e);
      this.entries.delete(uri);
      if (e.state) gone.push(uri);
    }
    for (const [uri, w] of uris) {
      const e = this.entries.get(uri);
      if (e && e.discover === Boolean(w.discover)) {
        e.timeoutMs = w.timeoutMs ?? this.o.timeoutMs;
        continue;
      }
      if (e) this.drop(e);
      const fresh: Entry = { timeoutMs: w.timeoutMs ?? this.o.timeoutMs, discover: Boolean(w.discover), failures: 0 };
      this.entries.set(uri, fresh);
      this.fetchNow(uri, fresh);
    }
    if (gone.length > 0) this.onChange(gone);
  }

  get(uri: string): JwksFetch | undefined {
    return this.entries.get(uri)?.state;
  }

  /** Every URI with an answer (keys or error); pending ones are left out. */
  all(): Record<string, JwksFetch> {
    const out: Record<string, JwksFetch> = {};
    for (const [uri, e] of [...this.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) if (e.state) out[uri] = e.state;
    return out;
  }

  /** Resolves when no fetch is under way (tests). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const e of this.entries.values()) this.drop(e);
    await this.settled();
  }

  private drop(e: Entry): void {
    if (e.timer !== undefined) this.timers.clearTimeout(e.timer);
    e.timer = undefined;
    e.inFlight?.abort();
  }

  private schedule(uri: string, e: Entry, ms: number): void {
    if (this.stopped || this.entries.get(uri) !== e) return;
    e.timer = this.timers.setTimeout(() => {
      e.timer = undefined;
      this.fetchNow(uri, e);
    }, ms);
    (e.timer as { unref?: () => void }).unref?.();
  }

  private fetchNow(uri: string, e: Entry): void {
    const p = this.fetchOnce(uri, e).finally(() => this.running.delete(p));
    this.running.add(p);
  }

  private async fetchOnce(uri: string, e: Entry): Promise<void> {
    const ac = new AbortController();
    e.inFlight = ac;
    const timer = this.timers.setTimeout(() => ac.abort(new Error(`timed out after ${e.timeoutMs} ms`)), e.timeoutMs);
    let next: JwksFetch;
    try {
      const jwksUri = e.discover ? await this.discover(uri, ac.signal) : uri;
      const body = await this.get_(jwksUri, { signal: ac.signal, maxBytes: this.o.maxBytes });
      next = { keys: normalizeJwks(body), fetchedAt: new Date(this.timers.now()).toISOString() };
    } catch (err) {
      const reason = ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason.message : (err as Error).message;
      next = { error: reason || String(err) };
    } finally {
      this.timers.clearTimeout(timer);
      if (e.inFlight === ac) e.inFlight = undefined;
    }
    if (this.stopped || this.entries.get(uri) !== e) return;
    const before = e.state;
    if ('error' in next) {
      e.failures++;
      this.log.warn('fetching a JWKS failed', { uri, error: next.error, failures: e.failures, keptKeys: Boolean(before && 'keys' in before) });
      // Keys fetched before stay: the issuer's keys rarely vanish, and a flaky endpoint must not lock users out.
      if (!before || 'error' in before) e.state = next;
      this.schedule(uri, e, expBackoff(e.failures - 1, this.o.retryBaseMs, Math.min(this.o.retryMaxMs, this.o.refreshMs)));
    } else {
      e.failures = 0;
      e.state = next;
      this.schedule(uri, e, this.o.refreshMs);
    }
    if (!sameAnswer(before, e.state)) this.onChange([uri]);
  }

  /** OpenID Connect discovery: the `jwks_uri` of the issuer's `/.well-known/openid-configuration`. */
  private async discover(issuer: string, signal: AbortSignal): Promise<string> {
    if (!/^https?:\/\//.test(issuer)) throw new Error(`issuer "${issuer}" is not an http(s) URL, so its keys cannot be discovered: set jwksUri or jwks`);
    const doc = await this.get_(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal, maxBytes: this.o.maxBytes });
    let jwksUri: unknown;
    try {
      jwksUri = (JSON.parse(doc) as { jwks_uri?: unknown } | null)?.jwks_uri;
    } catch {
      throw new Error('the OpenID configuration of the issuer is not JSON');
    }
    if (typeof jwksUri !== 'string' || jwksUri === '') throw new Error('the OpenID configuration of the issuer has no jwks_uri');
    return jwksUri;
  }
}

function sameAnswer(a: JwksFetch | undefined, b: JwksFetch | undefined): boolean {
  if (!a || !b) return a === b;
  if ('keys' in a && 'keys' in b) return a.keys === b.keys;
  if ('error' in a && 'error' in b) return a.error === b.error;
  return false;
}

/** The body as a JWKS (`{"keys": [...]}`), re-serialized so equal key sets compare equal; throws otherwise. */
export function normalizeJwks(body: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new Error('the response is not JSON');
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.some((k) => k === null || typeof k !== 'object' || Array.isArray(k))) {
    throw new Error('the response is not a JSON Web Key Set (no "keys" array of objects)');
  }
  return JSON.stringify({ keys });
}

/** GET with undici: redirects followed, the body read up to `maxBytes`. */
export const undiciGet: HttpGet = async (uri, { signal, maxBytes }) => {
  const res = await undiciFetch(uri, { signal, redirect: 'follow', headers: { accept: 'application/json, application/jwk-set+json' } });
  if (res.status < 200 || res.status >= 300) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`HTTP ${res.status} from ${uri}`);
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new Error(`the key set is larger than ${maxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      size += chunk.byteLength;
      if (size > maxBytes) throw new Error(`the key set is larger than ${maxBytes} bytes`);
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
};
