// What the distribution loop reads from the operator's informer caches (memory only, no requests).
// In: the caches (Kubernetes objects, mesh config, the operator's own ConfigMaps as metadata) and the validator.
// Out: a SnapshotInput holding only valid config (translation may assume validated objects) plus the invalid
// objects' keys, the cached state of ConfigMaps and pods, and per-object signatures: the part of an object that
// can matter to a snapshot, so that status writes, our own pod annotations and controller status updates do not
// wake the loop.
import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeObject, MeshConfig, ObjectKey, SnapshotInput } from '../../model/types.ts';
import { CONFIG_HASH_ANNOTATION } from '../../translate/envoy/bundle-format.ts';
import { IDENTITY_HASH_ANNOTATION, ROOT_CERT_HASH_ANNOTATION } from '../identity/desired.ts';
import { mountedNames } from '../pod-nudge.ts';
import type { Validate } from '../reconciler.ts';
import { configKey, stableJson } from './snapshot-index.ts';
import { WORKLOAD_LABEL } from './writer.ts';

export interface Cache {
  list(namespace?: string): readonly KubernetesObject[];
  get(namespace: string | undefined, name: string): KubernetesObject | undefined;
  getByKey(key: string): KubernetesObject | undefined;
}

/** The caches by kind: Namespace, Service, EndpointSlice, Pod, the pod owners, the eight mesh kinds, ConfigMap. */
export type Caches = ReadonlyMap<string, Cache>;

export const OWNER_KINDS = ['ReplicaSet', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'] as const;
export const KUBE_KINDS = ['Namespace', 'Service', 'EndpointSlice', 'Pod', ...OWNER_KINDS] as const;

const CONFIG_FIELDS: ReadonlyArray<[string, keyof MeshConfig]> = [
  ['VirtualService', 'virtualServices'],
  ['DestinationRule', 'destinationRules'],
  ['Gateway', 'gateways'],
  ['ServiceEntry', 'serviceEntries'],
  ['WorkloadEntry', 'workloadEntries'],
  ['PeerAuthentication', 'peerAuthentications'],
  ['AuthorizationPolicy', 'authorizationPolicies'],
  ['RequestAuthentication', 'requestAuthentications'],
];
export const MESH_KIND_NAMES: readonly string[] = CONFIG_FIELDS.map(([k]) => k);

export interface CachedConfigMap {
  namespace: string;
  name: string;
  uid: string;
  /** The `weft.dev/workload` label. */
  workload: string;
  hash?: string;
  owner?: { apiVersion: string; kind: string; name: string; uid: string };
}

export interface CachedPod {
  name: string;
  uid: string;
  hash?: string;
  deleting: boolean;
  /** Succeeded or Failed: the kubelet syncs its volumes no more. */
  finished: boolean;
  /** The ConfigMaps its volumes mount. */
  configMaps: readonly string[];
}

export interface DistributionSources {
  snapshotInput(): { input: SnapshotInput; invalid: ReadonlyMap<ObjectKey, number | undefined> };
  configMap(namespace: string, name: string): CachedConfigMap | undefined;
  configMaps(): CachedConfigMap[];
  pod(namespace: string, name: string): CachedPod | undefined;
  /** Whether the controller an ownerReference names is in the caches, with that uid, and still owned by no other
   * controller (so it still names a workload of its own). Bare pods never count: without pods a bare pod is no
   * workload. */
  ownerIsWorkload(namespace: string, owner: { kind: string; name: string; uid: string }): boolean;
  /** What of the cached object can matter to a snapshot ('' when it is gone). */
  signature(kind: string, key: string): string;
}

type Meta = NonNullable<KubeObject['metadata']> & { managedFields?: unknown };

function metaWithout(o: KubernetesObject, ...drop: string[]): Record<string, unknown> {
  const md = { ...((o.metadata ?? {}) as Meta) } as Record<string, unknown>;
  delete md.resourceVersion;
  delete md.managedFields;
  for (const d of drop) delete md[d];
  return md;
}

const rec = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Signatures by kind; anything not listed here counts in full (minus resourceVersion and managedFields). */
export function signatureOf(kind: string, o: KubernetesObject | undefined): string {
  if (!o) return '';
  const any = o as KubeObject;
  switch (kind) {
    case 'Pod': {
      const md = metaWithout(o);
      const ann = { ...rec(md.annotations) };
      // Written by us, after translation (and by the identity controller, after issuing).
      for (const a of [CONFIG_HASH_ANNOTATION, IDENTITY_HASH_ANNOTATION, ROOT_CERT_HASH_ANNOTATION]) delete ann[a];
      md.annotations = ann;
      const st = rec(any.status);
      const ready = (Array.isArray(st.conditions) ? st.conditions : []).map((c) => [rec(c).type, rec(c).status]);
      return stableJson([md, any.spec, st.phase, st.podIP, st.podIPs, ready]);
    }
    case 'ReplicaSet': case 'Deployment': case 'StatefulSet': case 'DaemonSet': case 'Job': case 'CronJob':
      // Only identity and ownership name workloads; replica counts and status do not.
      return stableJson([any.metadata?.uid, any.metadata?.name, any.metadata?.ownerReferences, any.metadata?.deletionTimestamp]);
    case 'Service':
      return stableJson([metaWithout(o), any.spec]);
    case 'WorkloadEntry':
      // Its health condition shapes endpoints.
      return stableJson([metaWithout(o), any.spec, rec(any.status).conditions]);
    default:
      if (MESH_KIND_NAMES.includes(kind)) return stableJson([metaWithout(o), any.spec]); // status is ours
      return stableJson({ ...any, metadata: metaWithout(o) });
  }
}

export class InformerSources implements DistributionSources {
  private readonly caches: Caches;
  private readonly validate: Validate;
  /** Validation results by uid and generation: objects are validated once per generation. */
  private validated = new Map<string, boolean>();

  constructor(caches: Caches, validate: Validate) {
    this.caches = caches;
    this.validate = validate;
  }

  private cache(kind: string): Cache {
    const c = this.caches.get(kind);
    if (!c) throw new Error(`no cache for ${kind}`);
    return c;
  }

  private list(kind: string): KubeObject[] {
    return this.caches.get(kind)?.list() as KubeObject[] | undefined ?? [];
  }

  snapshotInput(): { input: SnapshotInput; invalid: ReadonlyMap<ObjectKey, number | undefined> } {
    const invalid = new Map<ObjectKey, number | undefined>();
    const seen = new Map<string, boolean>();
    const config = {} as Record<keyof MeshConfig, KubeObject[]>;
    for (const [kind, field] of CONFIG_FIELDS) {
      config[field] = this.list(kind).filter((o) => {
        const memo = `${o.metadata?.uid ?? ''}/${o.metadata?.generation ?? ''}`;
        let ok = this.validated.get(memo);
        if (ok === undefined) {
          try {
            ok = this.validate({ ...o, kind: o.kind ?? kind }).errors.length === 0;
          } catch {
            ok = false;
          }
        }
        seen.set(memo, ok);
        if (!ok) invalid.set(configKey(kind, o), o.metadata?.generation);
        return ok;
      });
    }
    this.validated = seen;
    const input: SnapshotInput = {
      namespaces: this.list('Namespace'),
      services: this.list('Service'),
      endpointSlices: this.list('EndpointSlice'),
      pods: this.list('Pod'),
      replicaSets: this.list('ReplicaSet'),
      deployments: this.list('Deployment'),
      statefulSets: this.list('StatefulSet'),
      daemonSets: this.list('DaemonSet'),
      jobs: this.list('Job'),
      cronJobs: this.list('CronJob'),
      config: config as unknown as MeshConfig,
    };
    return { input, invalid };
  }

  configMap(namespace: string, name: string): CachedConfigMap | undefined {
    const o = this.cache('ConfigMap').get(namespace, name);
    return o ? toCachedConfigMap(o) : undefined;
  }

  configMaps(): CachedConfigMap[] {
    return this.cache('ConfigMap').list().map(toCachedConfigMap);
  }

  pod(namespace: string, name: string): CachedPod | undefined {
    const p = this.cache('Pod').get(namespace, name);
    return p ? toCachedPod(p) : undefined;
  }

  ownerIsWorkload(namespace: string, owner: { kind: string; name: string; uid: string }): boolean {
    if (!(OWNER_KINDS as readonly string[]).includes(owner.kind)) return false;
    const o = this.caches.get(owner.kind)?.get(namespace, owner.name);
    return o !== undefined && o.metadata?.uid === owner.uid && !(o.metadata?.ownerReferences ?? []).some((r) => r.controller);
  }

  signature(kind: string, key: string): string {
    const sig = signatureOf(kind, this.caches.get(kind)?.getByKey(key));
    // Kept per object by the loop: a digest, not the object's JSON.
    return sig === '' ? '' : createHash('sha256').update(sig).digest('base64');
  }
}

export function toCachedPod(p: KubernetesObject): CachedPod {
  const md = p.metadata ?? {};
  const phase = rec((p as KubeObject).status).phase;
  return {
    name: md.name ?? '',
    uid: md.uid ?? '',
    hash: md.annotations?.[CONFIG_HASH_ANNOTATION],
    deleting: Boolean(md.deletionTimestamp),
    finished: phase === 'Succeeded' || phase === 'Failed',
    configMaps: mountedNames(p, 'configMap'),
  };
}

function toCachedConfigMap(o: KubernetesObject): CachedConfigMap {
  const md = o.metadata ?? {};
  const ref = md.ownerReferences?.[0];
  return {
    namespace: md.namespace ?? '',
    name: md.name ?? '',
    uid: md.uid ?? '',
    workload: md.labels?.[WORKLOAD_LABEL] ?? '',
    hash: md.annotations?.[CONFIG_HASH_ANNOTATION],
    owner: ref ? { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, uid: ref.uid } : undefined,
  };
}
