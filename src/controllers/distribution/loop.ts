// The translation loop: informer changes → one snapshot per batch → translate the affected workloads → write
// their ConfigMaps (only when the hash differs) → annotate their pods → report `Programmed` per mesh object.
// In: change notifications (`notify(kind, key)`), the caches (DistributionSources), a writer. Out: ConfigMap
// writes and deletions, annotations of the pods mounting them (whatever their phase), and `programmed(key)` for the status reconciler, with `onProgrammed`
// called for the objects whose answer changed.
// Runs only while active (the operator activates it on the leader once every cache has synced). Changes are
// batched (batch-timer.ts): a batch starts `debounceMs` after the last change, or `maxDelayMs` after the first
// one at the latest; one batch at a time. A batch translates no further ahead of its writes than a few workloads:
// each workload's encoded bundle (megabytes at a thousand services) waits in memory until its ConfigMap is written.
// The writing itself is delivery.ts; what is remembered per workload, workload-index.ts; what a change means,
// pending.ts; the Programmed answers, publication.ts.
// Gateway workloads (pods annotated `weft.dev/proxy-mode: gateway`, in any namespace) are distributed like injected
// ones, and their credentials Secret is delivered with their config (../gateway/delivery.ts): the pods' hash
// annotation then covers both, and a change of a credential Secret looks at its gateway workloads again.
import { performance } from 'node:perf_hooks';
import type { ObjectKey, Snapshot, SnapshotInput, Workload } from '../../model/types.ts';
import { PROXY_CONFIGMAP_PREFIX } from '../../translate/envoy/bundle-format.ts';
import type { ProxyConfig } from '../../translate/types.ts';
import type { Finding } from '../../validate/result.ts';
import { podHash, type Credentials } from '../gateway/credentials.ts';
import type { CredentialsDelivery } from '../gateway/delivery.ts';
import { isGatewayWorkload } from '../gateway/mode.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { EncodedBundle } from '../proxy-bundle.ts';
import { realTimers, type Timers } from '../timers.ts';
import { Delivery } from './delivery.ts';
import { Limiter } from './limiter.ts';
import { affectedWorkloads, describeChanges, forceChange } from './dependencies.ts';
import type { BundleEncoder } from './encoder.ts';
import { addChange, freshPending, hasWork, type Pending, splitKey } from './pending.ts';
import type { Programmed } from './programmed.ts';
import { Publication } from './publication.ts';
import { Retries } from './retries.ts';
import { BatchTimer } from './batch-timer.ts';
import { workloadKey } from './snapshot-index.ts';
import type { DistributionSources } from './sources.ts';
import { emptyReads, trackingSnapshot } from './tracking.ts';
import { WorkloadIndex, type WorkloadState } from './workload-index.ts';
import type { DistributionWriter } from './writer.ts';

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
  /** Concurrent API writes of each kind: ConfigMap writes and deletions, pod annotations (default 16 each). */
  concurrency?: number;
  /** Called with `Kind/namespace/name` of mesh objects whose Programmed answer changed. */
  onProgrammed?: (keys: ObjectKey[]) => void;
  /** Gateway credentials; without it gateway workloads get their config only. */
  credentials?: CredentialsDelivery;
  timers?: Timers;
  log?: Logger;
}

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

export class DistributionLoop {
  private readonly o: Required<Omit<DistributionOptions, 'onProgrammed' | 'timers' | 'log' | 'credentials'>>;
  private readonly credentials: CredentialsDelivery | undefined;
  private readonly onProgrammed: (keys: ObjectKey[]) => void;
  private readonly timers: Timers;
  private readonly log: Logger;
  private active = false;
  private stopped = false;
  private pending: Pending = freshPending(true);
  private readonly batches: BatchTimer;
  private prev: Snapshot | undefined;
  private readonly index = new WorkloadIndex();
  private readonly delivery: Delivery;
  private readonly publication = new Publication();
  private readonly signatures = new Map<string, string>();
  private readonly retries: Retries;
  /** Deliveries under way (ConfigMap write and pod annotations), each holding its bundle. */
  private readonly inFlight: Limiter;
  private lastYield = 0;
  private readonly counters = { batches: 0, translated: 0, failures: 0, snapshotMs: 0, translateMs: 0, encodeMs: 0, batchMs: 0 };

  constructor(opts: DistributionOptions) {
    this.o = { debounceMs: 100, maxDelayMs: 1000, concurrency: 16, ...opts };
    this.onProgrammed = opts.onProgrammed ?? (() => {});
    this.timers = opts.timers ?? realTimers;
    this.log = opts.log ?? silentLogger;
    this.credentials = opts.credentials;
    this.delivery = new Delivery({ sources: this.o.sources, writer: this.o.writer, concurrency: this.o.concurrency, timers: this.timers, log: this.log });
    // Twice the write pool: the writers always have the next bundles ready, and no more are held.
    this.inFlight = new Limiter(2 * this.o.concurrency);
    this.retries = new Retries(this.timers, (key) => {
      this.pending.recheck.add(key);
      this.batches.schedule();
    });
    this.batches = new BatchTimer({
      timers: this.timers,
      debounceMs: this.o.debounceMs,
      maxDelayMs: this.o.maxDelayMs,
      enabled: () => this.active && !this.stopped,
      run: () => this.batch().catch((err: unknown) => {
        // Nothing was lost: everything is looked at again.
        this.log.error('distribution batch failed', { error: err });
        this.pending.full = true;
      }),
      more: () => hasWork(this.pending),
    });
  }

  /** Start working (leader with synced caches), or look at everything again: the next batch takes every workload. */
  activate(): void {
    if (this.stopped) return;
    const was = this.active;
    this.active = true;
    this.pending.full = true;
    this.batches.schedule(!was);
  }

  /** Stop working (leadership lost); in-flight writes finish. The next activation starts from scratch. */
  deactivate(): void {
    this.active = false;
    this.retries.clear();
    this.prev = undefined;
    this.pending = freshPending(true);
    this.index.clear();
    this.delivery.clear();
    this.credentials?.clear();
    this.publication.clear();
    this.batches.cancel();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.deactivate();
    await this.batches.current;
  }

  stats(): DistributionStats {
    const c = this.counters;
    return { ...c, ...this.delivery.counters, snapshotMs: Math.round(c.snapshotMs), translateMs: Math.round(c.translateMs), encodeMs: Math.round(c.encodeMs), batchMs: Math.round(c.batchMs) };
  }

  /** The Programmed answer for a mesh object; undefined until a batch has looked at it. */
  programmed(key: ObjectKey): Programmed | undefined {
    return this.active ? this.publication.get(key) : undefined;
  }

  /** Findings only the whole mesh shows (a Gateway's conflicts and servers not served) as of the last batch;
   * undefined until a batch has looked at the object. */
  findings(key: ObjectKey): Finding[] | undefined {
    return this.active ? this.publication.findingsOf(key) : undefined;
  }

  /** Resolves when no batch is due or running. */
  idle(): Promise<void> {
    return this.batches.idle();
  }

  /** An informer saw `kind` `key` (`namespace/name`, or `name` for Namespaces) change. */
  notify(kind: string, key: string): void {
    if (kind === 'ConfigMap') {
      this.delivery.configMapSeen(key);
      return this.configMapChanged(key);
    }
    if (kind === 'Secret') return this.secretChanged(key);
    if (kind === 'Pod') this.delivery.podChanged(...splitKey(key));
    // Unchanged signature: a status write, our own pod annotation, a controller's replica count.
    const sig = this.o.sources.signature(kind, key);
    const id = `${kind}/${key}`;
    if (this.signatures.get(id) === sig) return;
    if (sig === '') this.signatures.delete(id);
    else this.signatures.set(id, sig);
    if (!this.active) return; // activation looks at everything anyway
    if (addChange(this.pending, kind, key)) this.batches.schedule();
  }

  /** The mesh options changed (mesh config): every workload is translated again. */
  optionsChanged(): void {
    if (!this.active) return;
    this.pending.full = true;
    this.batches.schedule();
  }

  /** Config objects whose meaning changed without them changing (fetched key sets): the workloads they concern
   * are translated again. */
  refresh(keys: readonly ObjectKey[]): void {
    if (!this.active || keys.length === 0) return;
    for (const k of keys) this.pending.forced.add(k);
    this.batches.schedule();
  }

  /** Our ConfigMap changed: an echo of our own write is ignored; anything else gets its workload looked at. */
  private configMapChanged(key: string): void {
    if (!this.active) return;
    const [ns, name] = splitKey(key);
    const cm = this.o.sources.configMap(ns, name);
    const wname = cm?.workload || (name.startsWith(PROXY_CONFIGMAP_PREFIX) ? name.slice(PROXY_CONFIGMAP_PREFIX.length) : name);
    const wkey = `${ns}/${wname}`;
    const e = this.index.get(wkey);
    if (e && cm && cm.hash === e.hash && (cm.owner?.uid ?? '') === e.workload.uid) return;
    if (!e && !cm) return;
    this.pending.recheck.add(wkey);
    this.batches.schedule();
  }

  /** A Secret in a gateway namespace changed: the gateway workloads reading it get their credentials again. */
  private secretChanged(key: string): void {
    if (!this.active || !this.credentials) return;
    const due = this.credentials.affectedBy(...splitKey(key));
    for (const k of due) this.pending.recheck.add(k);
    if (due.length > 0) this.batches.schedule();
  }

  /** Injected workloads and gateway workloads (the model counts those as injected too) get their config. */
  readonly distributed = (w: Workload): boolean => w.injected || isGatewayWorkload(w);

  /** Lets writes and watch events through during a long run of translations. */
  private async breathe(): Promise<void> {
    const t = performance.now();
    if (t - this.lastYield < 10) return;
    await new Promise((r) => setImmediate(r));
    this.lastYield = performance.now();
  }

  private async batch(): Promise<void> {
    const p = this.pending;
    this.pending = freshPending();
    const started = performance.now();
    const { input, invalid } = this.o.sources.snapshotInput();
    const snap = this.o.buildSnapshot(input);
    const built = performance.now();
    let affected: Set<string>;
    if (p.full || !this.prev) {
      affected = new Set([...snap.workloads.filter(this.distributed).map(workloadKey), ...this.index.entries.keys()]);
    } else {
      const change = describeChanges({ namespaces: p.namespaces, config: p.config }, this.prev, snap);
      for (const k of p.forced) forceChange(change, k, this.prev, snap);
      affected = affectedWorkloads(change, this.index.entries, this.prev, snap, this.o.rootNamespace, this.distributed);
      for (const k of p.recheck) affected.add(k);
    }
    this.prev = snap;
    this.counters.batches++;

    const deliveries: Array<Promise<void>> = [];
    const translatingStarted = performance.now();
    let translated = 0;
    let translateMs = 0;
    let encodeMs = 0;
    for (const key of [...affected].sort()) {
      // Waiting for room can take a while: leadership may be lost meanwhile.
      await this.inFlight.room();
      if (!this.active) break;
      await this.breathe();
      const [ns, name] = splitKey(key);
      const w = snap.workload(ns, name);
      if (!w || !this.distributed(w)) {
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
        const e = this.index.get(key);
        if (e) e.outcome = { kind: 'failed', error: `translation failed: ${(err as Error).message}` };
        this.counters.failures++;
        continue;
      }
      translated++;
      const state = this.index.remember(key, w, pc, reads, snap, bundle.hash);
      const creds = this.credentials && isGatewayWorkload(w) ? this.credentials.plan(key, w, snap.config.gateways) : undefined;
      deliveries.push(this.inFlight.run(() => this.deliver(key, state, bundle, creds)).then((d) => d?.annotated));
    }
    const translatingMs = performance.now() - translatingStarted;
    await Promise.all(deliveries);
    this.counters.translated += translated;
    if (this.active) await this.delivery.sweep(snap, this.distributed);
    if (this.active) {
      const changed = this.publication.update(snap, invalid, this.index, { rootNamespace: this.o.rootNamespace, distributed: this.distributed });
      if (changed.length > 0) this.onProgrammed(changed);
    }
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

  private forget(key: string): void {
    this.index.forget(key);
    this.retries.succeeded(key);
    this.delivery.forget(key);
    this.credentials?.forget(key);
  }

  /** Writes the workload's ConfigMap (and a gateway's credentials) when due, then annotates its pods; failures
   * are retried with backoff. Resolves once written, with the annotating still under way: the write's slot (and
   * its bundle) is free while the pods wait for the cache to show the write. */
  private async deliver(key: string, state: WorkloadState, bundle: EncodedBundle, creds?: Credentials): Promise<{ annotated: Promise<void> } | undefined> {
    let r = await this.delivery.writeConfig(key, state.workload, bundle);
    if (r.kind === 'written' && creds && this.credentials) {
      const c = await this.credentials.write(key, state.workload, creds);
      if (c.kind === 'failed') r = { kind: 'failed', error: c.error };
    }
    if (r.kind === 'failed') {
      this.log.warn('distribution write failed', { workload: key, error: r.error });
      this.counters.failures++;
      if (this.index.get(key) === state) state.outcome = r;
      this.retries.failed(key);
      return;
    }
    if (this.index.get(key) !== state) return; // superseded
    state.outcome = r;
    this.retries.succeeded(key);
    const hash = creds ? podHash(bundle.hash, creds.hash) : bundle.hash;
    const configHash = bundle.hash;
    return {
      annotated: this.delivery.annotatePods(key, state.workload, configHash, hash).then((ok) => {
        if (!ok) this.retries.failed(key);
      }),
    };
  }

}
