// Nudging pods so the kubelet refreshes their ConfigMap and Secret volumes now instead of at its periodic resync
// (60–90 s): the kubelet remounts a pod's volumes whenever the pod object changes, whatever the pod's phase, so
// an annotation carrying the mounted object's content hash does it. A pod that started before the object existed
// got an empty (optional) volume and, with a sidecar waiting for its config, stays Pending until then.
// In: pods (cached objects), what a controller wrote. Out: merge patches of pod annotations, one per pod at a time:
// requests for a pod whose patch has not been sent yet are folded into it.
import { HttpMethod } from '@kubernetes/client-node';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from './kube-client.ts';
import { Limiter } from './distribution/limiter.ts';
import { KubeHttpError } from './rest.ts';

export type MountedObject = { kind: 'configMap' | 'secret'; name: string };

type PodLike = KubernetesObject & { spec?: unknown; status?: unknown };

const rec = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The names of the ConfigMaps (or Secrets) a pod's volumes mount, projected volumes included. */
export function mountedNames(pod: PodLike, kind: MountedObject['kind']): string[] {
  const out: string[] = [];
  for (const v of arr(rec(pod.spec).volumes)) {
    const vol = rec(v);
    const direct = kind === 'configMap' ? rec(vol.configMap).name : rec(vol.secret).secretName;
    if (typeof direct === 'string') out.push(direct);
    for (const s of arr(rec(vol.projected).sources)) {
      const name = rec(rec(s)[kind]).name;
      if (typeof name === 'string') out.push(name);
    }
  }
  return out;
}

export function mountsObject(pod: PodLike, o: MountedObject): boolean {
  return mountedNames(pod, o.kind).includes(o.name);
}

/** A pod the kubelet still syncs volumes for: not finished (Succeeded/Failed) and not being deleted. Pending pods
 * count: their containers may be waiting for exactly this volume. */
export function podNudgeable(pod: PodLike): boolean {
  const phase = rec(pod.status).phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata?.deletionTimestamp;
}

/** Pods of `pods` that mount `o`, can be nudged, and do not show `annotation: value` yet. */
export function podsToNudge<P extends PodLike>(pods: readonly P[], o: MountedObject, annotation: string, value: string): P[] {
  return pods.filter((p) => podNudgeable(p) && mountsObject(p, o) && p.metadata?.annotations?.[annotation] !== value);
}

export type PatchPod = (namespace: string, name: string, uid: string, annotations: Record<string, string>) => Promise<void>;

/** A merge patch of a pod's annotations, with the uid as a precondition (a pod recreated under the same name is
 * left alone); a pod that is gone, or was replaced, is fine. */
export function kubePatchPod(client: KubeClient): PatchPod {
  return async (namespace, name, uid, annotations) => {
    try {
      await client.request(HttpMethod.PATCH, `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`, {
        contentType: 'application/merge-patch+json',
        body: { metadata: { uid, annotations } },
      });
    } catch (err) {
      if (err instanceof KubeHttpError && (err.statusCode === 404 || err.statusCode === 409)) return;
      throw err;
    }
  };
}

interface Queued {
  uid: string;
  annotations: Record<string, string>;
  done: Promise<boolean>;
}

/** Patches pod annotations, at most `concurrency` at once; a request for a pod already queued joins its patch, and
 * one for values already sent to that pod (the cache may not show them yet) sends nothing. */
export class PodNudger {
  private readonly patch: PatchPod;
  private readonly limiter: Limiter;
  private readonly queued = new Map<string, Queued>();
  /** What each pod (by `namespace/name`, with its uid) was sent last; dropped by `forget` when the pod goes. */
  private readonly sent = new Map<string, { uid: string; annotations: Record<string, string> }>();
  nudged = 0;

  constructor(patch: PatchPod, concurrency = 8) {
    this.patch = patch;
    this.limiter = new Limiter(concurrency);
  }

  /** Resolves once a patch carrying `annotations` was accepted (or the pod is gone): true when one was sent for
   * this request, false when the pod had been sent these values already. Rejects when the patch failed. */
  nudge(namespace: string, name: string, uid: string, annotations: Record<string, string>): Promise<boolean> {
    const key = `${namespace}/${name}`;
    const before = this.sent.get(key);
    if (before?.uid === uid && Object.entries(annotations).every(([k, v]) => before.annotations[k] === v)) return Promise.resolve(false);
    const q = this.queued.get(key);
    if (q && q.uid === uid) {
      Object.assign(q.annotations, annotations);
      return q.done;
    }
    const entry = { uid, annotations: { ...annotations } } as Queued;
    this.queued.set(key, entry);
    entry.done = this.limiter.run(async () => {
      // One turn of the event loop: requests made in the same turn (several objects written at once) join.
      await new Promise((r) => setImmediate(r));
      if (this.queued.get(key) === entry) this.queued.delete(key);
      await this.patch(namespace, name, entry.uid, entry.annotations);
      const prev = this.sent.get(key);
      this.sent.set(key, { uid: entry.uid, annotations: { ...(prev?.uid === entry.uid ? prev.annotations : {}), ...entry.annotations } });
      this.nudged++;
      return true;
    });
    return entry.done;
  }

  /** The pod is gone (or was replaced): what it was sent no longer matters. */
  forget(namespace: string, name: string): void {
    this.sent.delete(`${namespace}/${name}`);
  }
}

const millis = (t: unknown): number | undefined => {
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? Date.parse(t) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
};

/** When an object was last written, by the API server's clock: the latest of its managed fields' times and its
 * creation; undefined when it says neither. */
export function lastWrittenAt(o: KubernetesObject): number | undefined {
  const times = [o.metadata?.creationTimestamp, ...(o.metadata?.managedFields ?? []).map((f) => f.time)].map(millis).filter((t) => t !== undefined);
  return times.length > 0 ? Math.max(...times) : undefined;
}

/** The pod was created in a later second than `at` (timestamps have second precision), so the kubelet mounted
 * what was there at `at` or newer: it needs no nudge for that write. */
export function createdAfter(pod: KubernetesObject, at: number | undefined): boolean {
  const created = millis(pod.metadata?.creationTimestamp);
  return at !== undefined && created !== undefined && Math.floor(created / 1000) > Math.floor(at / 1000);
}
