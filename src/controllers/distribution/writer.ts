// Writes what the distribution loop decided: a workload's ConfigMap (server-side apply), its deletion, and the
// config-hash annotation on the workload's pods (the kubelet refreshes a pod's ConfigMap volumes when the pod
// object changes, so the sidecar sees new config without waiting for the kubelet's periodic sync).
// In: the ConfigMap content (workload, hash, gzipped bundle) or a pod name. Out: API requests; a failed request
// throws with the API server's message, which the loop reports in the `Programmed` condition.
import { HttpMethod, type KubeConfig } from '@kubernetes/client-node';
import { CONFIG_HASH_ANNOTATION, PROXY_CONFIG_KEY, proxyConfigMapName } from '../../translate/envoy/bundle-format.ts';
import type { Workload } from '../../model/types.ts';
import { KubeClient } from '../kube-client.ts';
import { kubePatchPod, type PatchPod } from '../pod-nudge.ts';
import { KubeHttpError } from '../rest.ts';
import type { ResourceType } from '../resources.ts';
import { FIELD_MANAGER } from '../status-writer.ts';

export const CONFIG_MAPS: ResourceType = { kind: 'ConfigMap', group: '', version: 'v1', plural: 'configmaps', namespaced: true };
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'weft';
export const WORKLOAD_LABEL = 'weft.dev/workload';
/** The ConfigMaps the operator owns, for its metadata-only informer. */
export const CONFIG_MAP_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY},${WORKLOAD_LABEL}`;
/** A ConfigMap holds at most 1 MiB; warn well before. */
export const CONFIG_WARN_BYTES = 900 * 1024;

export interface ConfigMapContent {
  workload: Pick<Workload, 'apiVersion' | 'kind' | 'name' | 'namespace' | 'uid'>;
  hash: string;
  gzipped: Uint8Array;
}

export interface DistributionWriter {
  apply(c: ConfigMapContent): Promise<void>;
  /** Deletes a ConfigMap if it is still the one with `uid` (absent already is fine). */
  delete(namespace: string, name: string, uid?: string): Promise<void>;
  /** Sets the config-hash annotation on a pod if it is still the one with `uid` (gone already is fine). */
  annotatePod(namespace: string, name: string, uid: string, hash: string): Promise<void>;
}

/** The applied object: everything the operator owns in a workload's ConfigMap. */
export function configMapBody(c: ConfigMapContent): Record<string, unknown> {
  const w = c.workload;
  const metadata: Record<string, unknown> = {
    name: proxyConfigMapName(w.name),
    namespace: w.namespace,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [WORKLOAD_LABEL]: w.name },
    annotations: { [CONFIG_HASH_ANNOTATION]: c.hash },
  };
  // Garbage collection removes the ConfigMap with its workload; not a controller reference (the workload's
  // controller owns the workload, not its config) and never blocking the owner's deletion.
  if (w.uid) {
    metadata.ownerReferences = [{ apiVersion: w.apiVersion, kind: w.kind, name: w.name, uid: w.uid, controller: false, blockOwnerDeletion: false }];
  }
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata, binaryData: { [PROXY_CONFIG_KEY]: Buffer.from(c.gzipped).toString('base64') } };
}

const gone = (err: unknown): boolean => err instanceof KubeHttpError && err.statusCode === 404;

export class KubeDistributionWriter implements DistributionWriter {
  private readonly client: KubeClient;
  private readonly fieldManager: string;
  private readonly patchPod: PatchPod;

  constructor(kc: KubeConfig, fieldManager = FIELD_MANAGER) {
    this.client = new KubeClient(kc);
    this.fieldManager = fieldManager;
    this.patchPod = kubePatchPod(this.client);
  }

  async apply(c: ConfigMapContent): Promise<void> {
    const ns = encodeURIComponent(c.workload.namespace);
    const name = encodeURIComponent(proxyConfigMapName(c.workload.name));
    await this.client.request(HttpMethod.PATCH, `/api/v1/namespaces/${ns}/configmaps/${name}`, {
      query: { fieldManager: this.fieldManager, force: true },
      // JSON is YAML: the apply content type takes it as is.
      contentType: 'application/apply-patch+yaml',
      body: configMapBody(c),
    });
  }

  async delete(namespace: string, name: string, uid?: string): Promise<void> {
    try {
      await this.client.request(HttpMethod.DELETE, `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`, {
        body: { apiVersion: 'v1', kind: 'DeleteOptions', ...(uid ? { preconditions: { uid } } : {}) },
      });
    } catch (err) {
      // 409: a newer ConfigMap of that name replaced the one we meant; the next batch looks at it.
      if (!gone(err) && !(err instanceof KubeHttpError && err.statusCode === 409)) throw err;
    }
  }

  async annotatePod(namespace: string, name: string, uid: string, hash: string): Promise<void> {
    await this.patchPod(namespace, name, uid, { [CONFIG_HASH_ANNOTATION]: hash });
  }
}
