// The translation loop: informer changes → one snapshot per batch → translate the affected workloads → write
// their ConfigMaps (only when the hash differs) → annotate their pods → report `Programmed` per mesh object.
// In: change notifications (`notify(kind, key)`), the caches (DistributionSources), a writer. Out: ConfigMap
// writes and deletions, pod annotations, and `programmed(key)` for the status reconciler, with `onProgrammed`
// called for the objects whose answer changed.
// Runs only while active (the operator activates it on the leader once every cache has synced). Changes are
// batched: a batch starts `debounceMs` after the last change, or `maxDelayMs` after the first one at the latest.
// One batch at a time; changes arriving meanwhile make the next batch.
import { performance } from 'node:perf_hooks';
import type { ObjectKey, Snapshot, SnapshotInput, Workload } from '../../model/types.ts';
import { namespaceInjected } from '../../model/injection.ts';
import { proxyConfigMapName } from '../../translate/envoy/bundle-format.ts';
import type { ProxyConfig } from '../../translate/types.ts';
import { silentLogger, type Logger } from '../log.ts';
import { expBackoff, realTimers, type Timers } from '../timers.ts';
import { gzipBundle, type BundleEncoder, type EncodedBundle } from './bundle.ts';
import { affectedWorkloads, describeChanges, type DependencyEntry } from './dependencies.ts';
import { programmedStates, type Outcome, type Programmed } from './programmed.ts';
import { configObjects, visibleHosts, workloadKey } from './snapshot-index.ts';
import { KUBE_KINDS, MESH_KIND_NAMES, type DistributionSources } from './sources.ts';
import { emptyReads, trackingSnapshot, type Reads } from './tracking.ts';
import { CONFIG_WARN_BYTES, type DistributionWriter } from './writer.ts';

export interface DistributionOptions {
  sources: DistributionSources;
  writer: DistributionWriter;
  buildSnapshot: (input: SnapshotInput) => Snapshot;
  translate: (w: Workload, s: Snapshot) => ProxyConfig;
  encoder: BundleEncoder;
  rootNamespace: string;
  /** Quiet time that closes a batch (default 100 ms). */
  debounceMs?: number;
  /** Longest a change waits for its batch (default 1 s). */
  maxDelayMs?: number;
  /** Concurrent API writes (default 16). */
  concurrency?: number;
  /** Called with `Kind/namespace/name` of mesh objects whose Programmed answer changed. */
  onProgrammed?: (keys: ObjectKey[]) => void;
  timers?: Timers;
  log?: Logger;
}

interface WorkloadState extends DependencyEntry {
  workload: Workload;
  hash: string;
  outcome: Outcome;
}

interface Pending {
  full: boolean;
  namespaces: Set<string>;
  config: Set<ObjectKey>;
  /** Workloads to look at again regardless (ConfigMap changed under us, retry after a failure). */
  recheck: Set<string>;
}

const fresh = (full = false): Pending => ({ full, namespaces: new Set(), config: new Set(), recheck: new Set() });
const hasWork = (p: Pending): boolean => p.full || p.namespaces.size > 0 || p.config.size > 0 || p.recheck.size > 0;

export interface DistributionStats {
  batches: number;
  translated: number;
  written: number;
  deleted: number;
  podsAnnotated: number;
  failures: number;
  /** Milliseconds spent, summed over batches: building snapshots, translating, encoding (hash included), and
   * whole batches (with gzip and the API writes they wait for). */
  snapshotMs: number;
  translateMs: number;
  encodeMs: number;
  batchMs: number;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

export class DistributionLoop {
  private readonly o: Required<Omit<DistributionOptions, 'onProgrammed' | 'timers' | 'log'>>;
  private readonly onProgrammed: (keys: ObjectKey[]) => void;
  private readonly timers: Timers;
  private readonly log: Logger;
  private active = false;
  private stopped = false;
  private pending: Pending = fresh(true);
  private firstPendingAt: number | undefined;
  private timer: unknown;
  private running: Promise<void> | undefined;
  private prev: Snapshot | undefined;
  private readonly entries = new Map<string, WorkloadState>();
  private readonly users = new Map<ObjectKey, Set<string>>();
  private published = new Map<ObjectKey, Programmed>();
  private publishedSig = new Map<ObjectKey, string>();
  private readonly signatures = new Map<string, string>();
  private readonly failures = new Map<string, number>();
  /** The hash each workload's ConfigMap was last written with: the cache may not show our write yet. */
  private readonly lastWritten = new Map<string, string>();
  private readonly retries = new Map<string, unknown>();
  private idleWaiters: Array<() => void> = [];
  private lastYield = 0;
  private readonly counters: DistributionStats = {
    batches: 0, translated: 0, written: 0, deleted: 0, podsAnnotated: 0, failures: 0, snapshotMs: 0, translateMs: 0, encodeMs: 0, batchMs: 0,
  };

  constructor(opts: DistributionOptions) {
    this.o = { debounceMs: 100, maxDelayMs: 1000, concurrency: 16, ...opts };
    this.onProgrammed = opts.onProgrammed ?? (() => {});
    this.timers = opts.timers ?? realTimers;
    this.log = opts.log ?? silentLogger;
  }

  /** Start working (leader with synced caches), or look at everything again: the next batch takes every workload. */
  activate(): void {
    if (this.stopped) return;
    const was = this.active;
    this.active = true;
    this.pending.full = true;
    this.schedule(!was);
  }

  /** Stop working (leadership lost); in-flight writes finish. The next activation starts from scratch. */
  deactivate(): void {
    this.active = false;
    this.clearTimers();
    this.prev = undefined;
    this.pending = fresh(true);
    this.firstPendingAt = undefined;
    this.entries.clear();
    this.users.clear();
    this.lastWritten.clear();
    this.failures.clear();
    this.published = new Map();
    this.publishedSig = new Map();
    this.resolveIdle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.deactivate();
    await this.running;
  }

  stats(): DistributionStats {
    const c = this.counters;
    return { ...c, snapshotMs: Math.round(c.snapshotMs), translateMs: Math.round(c.translateMs), encodeMs: Math.round(c.encodeMs), batchMs: Math.round(c.batchMs) };
  }

  /** The Programmed answer for a mesh object; undefined until a batch has looked at it. */
  programmed(key: ObjectKey): Programmed | undefined {
    return this.active ? this.published.get(key) : undefined;
  }

  /** Resolves when no batch is due or running. */
  idle(): Promise<void> {
    if (!this.busy()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private busy(): boolean {
    return this.active && (this.running !== undefined || this.timer !== undefined);
  }

  /** An informer saw `kind` `key` (`namespace/name`, or `name` for Namespaces) change. */
  notify(kind: string, key: string): void {
    if (kind === 'ConfigMap') return this.configMapChanged(key);
    // Unchanged signature: a status write, our own pod annotation, a controller's replica count.
    const sig = this.o.sources.signature(kind, key);
    const id = `${kind}/${key}`;
    if (this.signatures.get(id) === sig) return;
    if (sig === '') this.signatures.delete(id);
    else this.signatures.set(id, sig);
    if (!this.active) return; // activation looks at everything anyway
    const ns = kind === 'Namespace' ? key : splitKey(key)[0];
    if (MESH_KIND_NAMES.includes(kind)) {
      this.pending.config.add(id);
      // ServiceEntries and WorkloadEntries define services and endpoints in their namespace.
      if (kind === 'ServiceEntry' || kind === 'WorkloadEntry') this.pending.namespaces.add(ns);
    } else if ((KUBE_KINDS as readonly string[]).includes(kind)) {
      this.pending.namespaces.add(ns);
    } else {
      return;
    }
    this.schedule();
  }

  /** Our ConfigMap changed: an echo of our own write is ignored; anything else gets its workload looked at. */
  private configMapChanged(key: string): void {
    if (!this.active) return;
    const [ns, name] = splitKey(key);
    const cm = this.o.sources.configMap(ns, name);
    const wname = cm?.workload || name.replace(/^weft-proxy-/, '');
    const wkey = `${ns}/${wname}`;
    const e = this.entries.get(wkey);
    if (e && cm && cm.hash === e.hash && (cm.owner?.uid ?? '') === e.workload.uid) return;
    if (!e && !cm) return;
    this.pending.recheck.add(wkey);
    this.schedule();
  }

  private schedule(now = false): void {
    if (!this.active || this.stopped) return;
    const t = this.timers.now();
    this.firstPendingAt ??= t;
    if (this.running) return; // the running batch schedules the next one
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    const delay = now ? 0 : Math.max(0, Math.min(this.o.debounceMs, this.firstPendingAt + this.o.maxDelayMs - t));
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.running = this.batch()
        .catch((err: unknown) => {
          // Nothing was lost: everything is looked at again.
          this.log.error('distribution batch failed', { error: err });
          this.pending.full = true;
        })
        .finally(() => {
          this.running = undefined;
          if (hasWork(this.pending)) this.schedule();
          else this.resolveIdle();
        });
    }, delay);
  }

  private resolveIdle(): void {
    if (this.busy()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }

  private clearTimers(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    for (const h of this.retries.values()) this.timers.clearTimeout(h);
    this.retries.clear();
  }

  /** Lets writes and watch events through during a long run of translations. */
  private async breathe(): Promise<void> {
    const t = performance.now();
    if (t - this.lastYield < 10) return;
    await new Promise((r) => setImmediate(r));
    this.lastYield = performance.now();
  }

  private async batch(): Promise<void> {
    const p = this.pending;
    this.pending = fresh();
    this.firstPendingAt = undefined;
    const started = performance.now();
    const { input, invalid } = this.o.sources.snapshotInput();
    const snap = this.o.buildSnapshot(input);
    const built = performance.now();
    let affected: Set<string>;
    if (p.full || !this.prev) {
      affected = new Set([...snap.workloads.filter((w) => w.injected).map(workloadKey), ...this.entries.keys()]);
    } else {
      const change = describeChanges({ namespaces: p.namespaces, config: p.config }, this.prev, snap);
      affected = affectedWorkloads(change, this.entries, this.prev, snap, this.o.rootNamespace);
      for (const k of p.recheck) affected.add(k);
    }
    this.prev = snap;
    this.counters.batches++;

    const limit = new Limiter(this.o.concurrency);
    const deliveries: Array<Promise<void>> = [];
    const translatingStarted = performance.now();
    let translated = 0;
    let translateMs = 0;
    let encodeMs = 0;
    for (const key of [...affected].sort()) {
      if (!this.active) break;
      await this.breathe();
      const [ns, name] = splitKey(key);
      const w = snap.workload(ns, name);
      if (!w?.injected) {
        this.forget(key);
        continue;
      }
      const reads = emptyReads();
      let bundle: EncodedBundle;
      let pc: ProxyConfig;
      try {
        const t0 = performance.now();
        pc = this.o.translate(w, trackingSnapshot(snap, reads));
        const t1 = performance.now();
        bundle = this.o.encoder.encode(pc);
        translateMs += t1 - t0;
        encodeMs += performance.now() - t1;
      } catch (err) {
        // Keep serving the last good config; report the failure on the objects it used before.
        this.log.error('translating a workload failed', { workload: key, error: err });
        const e = this.entries.get(key);
        if (e) e.outcome = { kind: 'failed', error: `translation failed: ${(err as Error).message}` };
        this.counters.failures++;
        continue;
      }
      translated++;
      const state = this.remember(key, w, pc, compact(reads, snap), bundle.hash);
      deliveries.push(limit.run(() => this.deliver(key, state, bundle)));
    }
    const translatingMs = performance.now() - translatingStarted;
    await Promise.all(deliveries);
    this.counters.translated += translated;
    if (this.active) await this.sweep(snap, limit);
    if (this.active) this.publish(snap, invalid);
    this.counters.snapshotMs += built - started;
    this.counters.translateMs += translateMs;
    this.counters.encodeMs += encodeMs;
    this.counters.batchMs += performance.now() - started;
    this.log.debug('distribution batch', {
      full: p.full,
      affected: affected.size,
      translated,
      snapshotMs: Math.round(built - started),
      translateMs: Math.round(translateMs),
      encodeMs: Math.round(encodeMs),
      loopMs: Math.round(translatingMs),
      totalMs: Math.round(performance.now() - started),
    });
  }

  private remember(key: string, w: Workload, pc: ProxyConfig, reads: Reads, hash: string): WorkloadState {
    const old = this.entries.get(key);
    for (const k of old?.inputs ?? []) this.users.get(k)?.delete(key);
    const inputs = new Set(pc.inputs);
    for (const k of inputs) {
      let u = this.users.get(k);
      if (!u) this.users.set(k, (u = new Set()));
      u.add(key);
    }
    const state: WorkloadState = { workload: w, namespace: w.namespace, labels: w.labels, inputs, reads, hash, outcome: { kind: 'pending' } };
    this.entries.set(key, state);
    return state;
  }

  private forget(key: string): void {
    const old = this.entries.get(key);
    for (const k of old?.inputs ?? []) this.users.get(k)?.delete(key);
    this.entries.delete(key);
    this.failures.delete(key);
    this.lastWritten.delete(key);
  }

  /** Writes the ConfigMap when its hash (or owner) differs from the cached one, then annotates the pods. */
  private async deliver(key: string, state: WorkloadState, bundle: EncodedBundle): Promise<void> {
    const w = state.workload;
    const cm = this.o.sources.configMap(w.namespace, proxyConfigMapName(w.name));
    const current =
      cm !== undefined && cm.hash === bundle.hash && (cm.owner?.uid ?? '') === w.uid && (this.lastWritten.get(key) ?? bundle.hash) === bundle.hash;
    let size: number | undefined;
    if (!current) {
      const gz = gzipBundle(bundle.bytes);
      size = gz.length;
      this.warnSize(key, size);
      try {
        await this.o.writer.apply({ workload: w, hash: bundle.hash, gzipped: gz });
        this.lastWritten.set(key, bundle.hash);
        this.counters.written++;
      } catch (err) {
        this.failed(key, state, `writing ConfigMap ${proxyConfigMapName(w.name)} failed: ${(err as Error).message}`, size);
        return;
      }
    } else if (bundle.bytes.length > CONFIG_WARN_BYTES) {
      // Only a bundle this large can gzip to more than the threshold.
      size = gzipBundle(bundle.bytes).length;
      this.warnSize(key, size);
    }
    if (this.entries.get(key) !== state) return; // superseded
    state.outcome = { kind: 'written', bytes: size };
    this.failures.delete(key);
    await this.annotatePods(key, w, bundle.hash);
  }

  private warnSize(key: string, size: number): void {
    if (size > CONFIG_WARN_BYTES) {
      this.log.warn('proxy config is close to the ConfigMap size limit', { workload: key, bytes: size, limit: 1024 * 1024 });
    }
  }

  private failed(key: string, state: WorkloadState, error: string, bytes?: number): void {
    this.log.warn('distribution write failed', { workload: key, error });
    this.counters.failures++;
    if (this.entries.get(key) === state) state.outcome = { kind: 'failed', error, bytes };
    this.retryLater(key);
  }

  private retryLater(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    if (this.retries.has(key)) return;
    const handle = this.timers.setTimeout(() => {
      this.retries.delete(key);
      this.pending.recheck.add(key);
      this.schedule();
    }, expBackoff(n, 1000, 60_000));
    (handle as { unref?: () => void }).unref?.();
    this.retries.set(key, handle);
  }

  /** The kubelet refreshes a pod's ConfigMap volumes when the pod object changes: running pods get the hash. */
  private async annotatePods(key: string, w: Workload, hash: string): Promise<void> {
    for (const pod of w.pods) {
      if (pod.phase !== 'Running') continue;
      const cached = this.o.sources.pod(w.namespace, pod.name);
      if (!cached || cached.deleting || cached.uid !== pod.uid || cached.hash === hash) continue;
      try {
        await this.o.writer.annotatePod(w.namespace, pod.name, pod.uid, hash);
        this.counters.podsAnnotated++;
      } catch (err) {
        this.log.warn('annotating a pod failed', { workload: key, pod: pod.name, error: err });
        this.retryLater(key);
      }
    }
  }

  /**
   * ConfigMaps whose workload is not injected (any more), or whose workload is gone, unless its owner is a
   * controller that still exists as a workload of its own in an injected namespace: a workload scaled to zero
   * keeps its ConfigMap for its next pod. A bare pod adopted by a ReplicaSet, or a ReplicaSet adopted by a
   * Deployment, names no workload any more: its ConfigMap goes.
   */
  private async sweep(snap: Snapshot, limit: Limiter): Promise<void> {
    const deletions: Array<Promise<void>> = [];
    for (const cm of this.o.sources.configMaps()) {
      const w = snap.workload(cm.namespace, cm.workload);
      let keep: boolean;
      if (w) keep = w.injected && proxyConfigMapName(w.name) === cm.name;
      else keep = cm.owner !== undefined && this.o.sources.ownerIsWorkload(cm.namespace, cm.owner) && namespaceInjected(snap.namespaceLabels(cm.namespace));
      if (keep) continue;
      deletions.push(
        limit.run(async () => {
          try {
            await this.o.writer.delete(cm.namespace, cm.name, cm.uid);
            this.counters.deleted++;
            this.log.info('deleted proxy config of a workload that is gone or not injected', { namespace: cm.namespace, configMap: cm.name });
          } catch (err) {
            this.log.warn('deleting a ConfigMap failed', { namespace: cm.namespace, configMap: cm.name, error: err });
          }
        }),
      );
    }
    await Promise.all(deletions);
  }

  private publish(snap: Snapshot, invalid: ReadonlyMap<ObjectKey, number | undefined>): void {
    const next = programmedStates(configObjects(snap), invalid, this.users, (k) => this.entries.get(k)?.outcome);
    const sigs = new Map<ObjectKey, string>();
    const changed: ObjectKey[] = [];
    for (const [k, st] of next) {
      const sig = JSON.stringify(st);
      sigs.set(k, sig);
      if (this.publishedSig.get(k) !== sig) changed.push(k);
    }
    this.published = next;
    this.publishedSig = sigs;
    if (changed.length > 0) this.onProgrammed(changed);
  }
}

/** Drops hosts already covered by a namespace whose visible services were listed: the index stays small. */
function compact(r: Reads, snap: Snapshot): Reads {
  if (r.visibleIn.size === 0 || r.hosts.size === 0) return r;
  const sets = [...r.visibleIn].map((ns) => visibleHosts(snap, ns));
  for (const h of [...r.hosts]) if (sets.some((s) => s.has(h))) r.hosts.delete(h);
  return r;
}

/** At most `n` promises at once. */
class Limiter {
  private readonly n: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(n: number) {
    this.n = Math.max(1, n);
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
