// Writes a mesh resource's status, and only when it changed.
// In: the resource as cached (with its resourceVersion) and the status computed for it. Out: a server-side apply
// of `.status` through the status subresource with field manager `weft-operator`, or nothing when `statusEqual`
// says the stored status already says the same thing.
// The apply carries the cached resourceVersion as a precondition: a status computed from a stale copy is refused
// (409) instead of overwriting a newer generation's status; the caller retries once the cache caught up.
import { ApiException, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { statusEqual, type MeshStatus } from './conditions.ts';
import { apiVersionOf, type ResourceType } from './resources.ts';

export const FIELD_MANAGER = 'weft-operator';

/** `unchanged`: nothing to write; `gone`: the object was deleted; `conflict`: our copy is stale. */
export type WriteResult = 'unchanged' | 'written' | 'gone' | 'conflict';

export type StatusObject = KubernetesObject & { status?: MeshStatus };

export interface StatusWriter {
  write(type: ResourceType, obj: StatusObject, status: MeshStatus): Promise<WriteResult>;
}

export class KubeStatusWriter implements StatusWriter {
  private readonly api: CustomObjectsApi;
  private readonly fieldManager: string;

  constructor(kc: KubeConfig, fieldManager = FIELD_MANAGER) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.fieldManager = fieldManager;
  }

  async write(type: ResourceType, obj: StatusObject, status: MeshStatus): Promise<WriteResult> {
    if (statusEqual(obj.status, status)) return 'unchanged';
    const name = obj.metadata?.name ?? '';
    const namespace = obj.metadata?.namespace ?? '';
    const body = {
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      metadata: { name, namespace, resourceVersion: obj.metadata?.resourceVersion },
      status,
    };
    try {
      await this.api.patchNamespacedCustomObjectStatus(
        { group: type.group, version: type.version, plural: type.plural, namespace, name, body, fieldManager: this.fieldManager, force: true },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      );
      return 'written';
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return 'gone';
      if (err instanceof ApiException && err.code === 409) return 'conflict';
      throw err;
    }
  }
}
