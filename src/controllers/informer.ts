// A resilient cache of one resource type, built on client-node's ListWatch.
// In: a KubeConfig and a resource type (any collection path). Out: `list()`/`get()` from memory and
// `onChange(key)` notifications (level-based: the key only, never added/modified/deleted).
//
// What client-node 2.x's ListWatch already does: resumes a closed watch from the last resourceVersion, relists
// when a watch ends with 410 Gone (HTTP status or ERROR event), reconnects at once after its 30 s inactivity
// timeout, and backs off (1 s..30 s) between watches that end without events.
// What it does not, and this wrapper adds:
//  - after a failed list or any other watch error it emits `error` and stops for good → we restart it with
//    exponential backoff (resuming from the last resourceVersion, or relisting if it has none);
//  - `Watch.watch()` can throw (auth plugin failure, no cluster), which would reject an un-awaited promise inside
//    ListWatch → the guarded watch turns that into a normal `done(err)`;
//  - `done` may run before `watch()` returns, and a late `done` from an aborted watch can tear down the next one
//    → callbacks from anything but the current watch are dropped, and `done` is delivered asynchronously;
//  - `stop()` during a list still starts a watch afterwards → the guarded watch refuses to start once stopped;
//  - its reconnect delay is a plain timer that keeps the process alive after stop → ours ends on stop.
// Nothing here throws out of the event loop or exits the process.
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { silentLogger, type Logger } from './log.ts';
import { collectionPath, type ResourceType } from './resources.ts';
import { listAll } from './rest.ts';
import { expBackoff, realTimers, sleep, type Timers } from './timers.ts';

export type WatchFn = (
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  callback: (phase: string, obj: unknown, watchObj?: unknown) => void,
  done: (err: unknown) => void,
) => Promise<AbortController>;

export type ListFn<T extends KubernetesObject> = (signal: AbortSignal) => Promise<KubernetesListObject<T>>;

export interface InformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  type: ResourceType;
  /** Watch one namespace instead of the whole cluster. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Restart backoff after errors: base (default 500 ms) doubling to max (default 30 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  timers?: Timers;
  log?: Logger;
  /** Test seams: replace the list call or the watch stream. */
  list?: ListFn<T>;
  watch?: WatchFn;
}

export function objectKey(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata?.name ?? ''}` : (obj.metadata?.name ?? '');
}

/** Routes ListWatch's watch calls through the informer so it can guard them. */
class GuardedWatch extends Watch {
  private readonly guarded: WatchFn;
  constructor(kc: KubeConfig, guarded: WatchFn) {
    super(kc);
    this.guarded = guarded;
  }
  override watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return this.guarded(path, query, callback, done);
  }
}

export class Informer<T extends KubernetesObject> {
  readonly type: ResourceType;
  private readonly lw: ListWatch<T>;
  private readonly inner: WatchFn;
  private readonly listFn: ListFn<T>;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly listeners = new Set<(key: string) => void>();
  private stopped = true;
  private stopCtl = new AbortController();
  private synced = false;
  private syncWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private failures = 0;
  private restartTimer: unknown;
  private listedSinceWatch = false;
  private watchSeq = 0;

  constructor(opts: InformerOptions<T>) {
    this.type = opts.type;
    this.timers = opts.timers ?? realTimers;
    this.log = (opts.log ?? silentLogger).child(`informer.${opts.type.plural}`);
    this.retryBaseMs = opts.retryBaseMs ?? 500;
    this.retryMaxMs = opts.retryMaxMs ?? 30_000;
    const path = collectionPath(opts.type, opts.namespace);
    const kc = opts.kubeConfig;
    const list: ListFn<T> =
      opts.list ?? ((signal) => listAll<T>(kc, path, { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, signal }));
    this.listFn = list;
    this.inner = opts.watch ?? ((p, q, cb, done) => new Watch(kc).watch(p, q, cb, done));
    const watch = new GuardedWatch(kc, (p, q, cb, done) => this.guardedWatch(p, q, cb, done));
    this.lw = new ListWatch<T>(path, watch, () => this.guardedList(), false, opts.labelSelector, opts.fieldSelector, {
      delayFn: (ms) => sleep(this.timers, ms, this.stopCtl.signal),
    });
    const changed = (obj: T): void => this.emit(objectKey(obj));
    this.lw.on('add', changed);
    this.lw.on('update', changed);
    this.lw.on('delete', changed);
    this.lw.on('error', (err: unknown) => this.onError(err));
  }

  /** Starts listing and watching in the background; returns at once. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopCtl = new AbortController();
    this.kick();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.watchSeq++;
    if (this.restartTimer !== undefined) this.timers.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.stopCtl.abort();
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) w.reject(new Error(`informer for ${this.type.plural} stopped before it synced`));
    await this.lw.stop();
  }

  list(namespace?: string): readonly T[] {
    return this.lw.list(namespace);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.lw.get(name, namespace ?? '');
  }

  /** Looks up `ns/name` (or `name` for cluster-scoped types). */
  getByKey(key: string): T | undefined {
    const i = key.indexOf('/');
    return i < 0 ? this.get(undefined, key) : this.get(key.slice(0, i), key.slice(i + 1));
  }

  /** Calls `cb(key)` whenever an object is added, changed or removed; returns an unsubscribe function. */
  onChange(cb: (key: string) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** True once the first full list is in the cache. */
  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
  }

  latestResourceVersion(): string {
    return this.lw.latestResourceVersion();
  }

  private kick(): void {
    this.lw.start().catch((err: unknown) => this.onError(err));
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    const delay = expBackoff(this.failures, this.retryBaseMs, this.retryMaxMs);
    this.failures++;
    // An outage fails every informer every few seconds: say so once, then again every tenth try.
    const fields = { error: err, failures: this.failures, retryInMs: delay, resourceVersion: this.lw.latestResourceVersion() };
    if (this.failures === 1 || this.failures % 10 === 0) this.log.warn('list/watch failed, restarting', fields);
    else this.log.debug('list/watch failed, restarting', fields);
    if (this.restartTimer !== undefined) return;
    this.restartTimer = this.timers.setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) this.kick();
    }, delay);
  }

  private async guardedList(): Promise<KubernetesListObject<T>> {
    const list = await this.listFn(this.stopCtl.signal);
    this.listedSinceWatch = true;
    return list;
  }

  private async guardedWatch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, obj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.stopped) return new AbortController();
    if (this.listedSinceWatch) {
      // ListWatch calls watch right after it applied a list to its cache.
      this.listedSinceWatch = false;
      this.recovered();
      this.markSynced();
    }
    const seq = ++this.watchSeq;
    const current = (): boolean => seq === this.watchSeq && !this.stopped;
    const onEvent = (phase: string, obj: unknown, watchObj?: unknown): void => {
      if (!current()) return;
      this.recovered();
      try {
        callback(phase, obj, watchObj);
      } catch (err) {
        this.log.error('watch event handling failed', { error: err, phase });
      }
    };
    let finished = false;
    const onDone = (err: unknown): void => {
      if (finished) return;
      finished = true;
      // Asynchronously, so ListWatch has recorded the controller this call returns before it handles the end.
      setImmediate(() => {
        if (current()) done(err);
      });
    };
    try {
      return await this.inner(path, { ...query, allowWatchBookmarks: true }, onEvent, onDone);
    } catch (err) {
      onDone(err);
      return new AbortController();
    }
  }

  private recovered(): void {
    if (this.failures > 0) this.log.info('list/watch recovered', { after: this.failures, resourceVersion: this.lw.latestResourceVersion() });
    this.failures = 0;
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    this.log.debug('synced', { objects: this.lw.list().length });
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) w.resolve();
  }

  private emit(key: string): void {
    for (const cb of this.listeners) {
      try {
        cb(key);
      } catch (err) {
        this.log.error('change listener failed', { error: err, key });
      }
    }
  }
}
