// Delivers what a batch decided: a workload's ConfigMap written when its hash (or owner) differs from the cached
// one, then the pods mounting it annotated with the hash (the kubelet refreshes a pod's ConfigMap volumes when the
// pod object changes, ../pod-nudge.ts); ConfigMaps of workloads that are gone or not injected deleted. In:
// workloads with their encoded bundles, the caches, a writer. Out: API writes, and each write's outcome for the
// loop to report.
//
// ConfigMap writes (and deletions) and pod annotations each have a pool of `concurrency` requests: a ConfigMap
// never waits behind another workload's pod annotation, and a pod is annotated as soon as its ConfigMap is written.
// A bundle is gzipped only when its write is due (on the event loop: for bundles of this size zlib's thread pool
// round trip costs the event loop as much as the compression itself).
import type { Snapshot, Workload } from '../../model/types.ts';
import { namespaceInjected } from '../../model/injection.ts';
import { CONFIG_HASH_ANNOTATION, PROXY_CONFIGMAP_PREFIX, proxyConfigMapName } from '../../translate/envoy/bundle-format.ts';
import type { Logger } from '../log.ts';
import { type EncodedBundle, gzipBundle } from '../proxy-bundle.ts';
import { PodNudger } from '../pod-nudge.ts';
import { Sightings } from '../sightings.ts';
import type { Timers } from '../timers.ts';
import { Limiter } from './limiter.ts';
import { PodMounts } from './pod-mounts.ts';
import type { DistributionSources } from './sources.ts';
import { CONFIG_WARN_BYTES, type DistributionWriter } from './writer.ts';

/** How long pods wait for the ConfigMap cache to show a write before they are annotated anyway. */
const SIGHTING_MS = 2_000;

export type WriteResult = { kind: 'written'; bytes?: number } | { kind: 'failed'; error: string; bytes?: number };

export interface DeliveryCounters {
  written: number;
  deleted: number;
  podsAnnotated: number;
}

export class Delivery {
  private readonly sources: DistributionSources;
  private readonly writer: DistributionWriter;
  private readonly log: Logger;
  private readonly configs: Limiter;
  private readonly nudger: PodNudger;
  private readonly mounts = new PodMounts();
  private readonly sightings: Sightings;
  /** The hash each workload's ConfigMap was last written with: the cache may not show our write yet. */
  private readonly lastWritten = new Map<string, string>();
  readonly counters: DeliveryCounters = { written: 0, deleted: 0, podsAnnotated: 0 };

  constructor(o: { sources: DistributionSources; writer: DistributionWriter; concurrency: number; timers: Timers; log: Logger }) {
    this.sources = o.sources;
    this.sightings = new Sightings(o.timers);
    this.writer = o.writer;
    this.log = o.log;
    this.configs = new Limiter(o.concurrency);
    this.nudger = new PodNudger((ns, name, uid, a) => this.writer.annotatePod(ns, name, uid, a[CONFIG_HASH_ANNOTATION]!), o.concurrency);
  }

  forget(key: string): void {
    this.lastWritten.delete(key);
  }

  clear(): void {
    this.lastWritten.clear();
    this.sightings.clear();
  }

  /** The ConfigMap cache changed `namespace/name`. */
  configMapSeen(key: string): void {
    this.sightings.seen(key);
  }

  /** The pod `namespace/name` changed: the index of what it mounts follows, and a pod that is gone is forgotten. */
  podChanged(namespace: string, name: string): void {
    const pod = this.sources.pod(namespace, name);
    this.mounts.update(namespace, name, pod?.configMaps);
    if (!pod) this.nudger.forget(namespace, name);
  }

  /** Writes the workload's ConfigMap unless the cached one already holds this bundle for this workload. */
  async writeConfig(key: string, w: Workload, bundle: EncodedBundle): Promise<WriteResult> {
    const cm = this.sources.configMap(w.namespace, proxyConfigMapName(w.name));
    const current =
      cm !== undefined && cm.hash === bundle.hash && (cm.owner?.uid ?? '') === w.uid && (this.lastWritten.get(key) ?? bundle.hash) === bundle.hash;
    if (current) {
      // Only a bundle this large can gzip to more than the threshold.
      if (bundle.bytes.length <= CONFIG_WARN_BYTES) return { kind: 'written' };
      const size = gzipBundle(bundle.bytes).length;
      this.warnSize(key, size);
      return { kind: 'written', bytes: size };
    }
    return this.configs.run(async () => {
      const gz = gzipBundle(bundle.bytes);
      this.warnSize(key, gz.length);
      try {
        await this.writer.apply({ workload: w, hash: bundle.hash, gzipped: gz });
      } catch (err) {
        return { kind: 'failed', error: `writing ConfigMap ${proxyConfigMapName(w.name)} failed: ${(err as Error).message}`, bytes: gz.length };
      }
      this.lastWritten.set(key, bundle.hash);
      this.counters.written++;
      return { kind: 'written', bytes: gz.length };
    });
  }

  /**
   * Annotates with `hash` every pod that mounts the workload's ConfigMap or belongs to the workload, unless it
   * shows `hash` already, is finished or is being deleted; whatever its phase otherwise: a Pending pod whose
   * sidecar waits for this config needs it most. The pods are looked up now, after the write, in the cache rather
   * than in the batch's snapshot, so a pod created since is not missed; one the cache shows only later changes
   * its workload, whose next batch annotates it. They are annotated once the ConfigMap cache shows `configHash`
   * (../sightings.ts). false when one failed.
   */
  async annotatePods(key: string, w: Workload, configHash: string, hash: string): Promise<boolean> {
    const name = proxyConfigMapName(w.name);
    await this.sightings.wait(`${w.namespace}/${name}`, () => this.sources.configMap(w.namespace, name)?.hash === configHash, SIGHTING_MS);
    const members = new Set(w.pods.map((p) => p.name));
    const due: Array<{ name: string; uid: string }> = [];
    for (const podName of new Set([...members, ...this.mounts.pods(w.namespace, name)])) {
      const pod = this.sources.pod(w.namespace, podName);
      if (!pod || pod.deleting || pod.finished || pod.hash === hash) continue;
      // A pod of the workload that mounts another workload's config (named when it was injected) gets that one's hash.
      if (!pod.configMaps.includes(name) && pod.configMaps.some((n) => n.startsWith(PROXY_CONFIGMAP_PREFIX))) continue;
      due.push(pod);
    }
    const results = await Promise.allSettled(due.map((p) => this.nudger.nudge(w.namespace, p.name, p.uid, { [CONFIG_HASH_ANNOTATION]: hash })));
    let ok = true;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        if (r.value) this.counters.podsAnnotated++;
        return;
      }
      this.log.warn('annotating a pod failed', { workload: key, pod: due[i]!.name, error: r.reason });
      ok = false;
    });
    return ok;
  }

  /**
   * Deletes ConfigMaps whose workload is not distributed (injected, or a gateway) any more, or whose workload is gone, unless its owner is
   * a controller that still exists as a workload of its own in an injected namespace: a workload scaled to zero
   * keeps its ConfigMap for its next pod. A bare pod adopted by a ReplicaSet, or a ReplicaSet adopted by a
   * Deployment, names no workload any more: its ConfigMap goes.
   */
  async sweep(snap: Snapshot, distributed: (w: Workload) => boolean = (w) => w.injected): Promise<void> {
    const deletions: Array<Promise<void>> = [];
    for (const cm of this.sources.configMaps()) {
      const w = snap.workload(cm.namespace, cm.workload);
      let keep: boolean;
      if (w) keep = distributed(w) && proxyConfigMapName(w.name) === cm.name;
      else keep = cm.owner !== undefined && this.sources.ownerIsWorkload(cm.namespace, cm.owner) && namespaceInjected(snap.namespaceLabels(cm.namespace));
      if (keep) continue;
      deletions.push(
        this.configs.run(async () => {
          try {
            await this.writer.delete(cm.namespace, cm.name, cm.uid);
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

  private warnSize(key: string, size: number): void {
    if (size > CONFIG_WARN_BYTES) {
      this.log.warn('proxy config is close to the ConfigMap size limit', { workload: key, bytes: size, limit: 1024 * 1024 });
    }
  }
}
