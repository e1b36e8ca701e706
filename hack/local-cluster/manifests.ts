// Installing weft's own manifests on a control plane: the CRDs from crds/ (waiting until Established) and
// credentials for a ServiceAccount, so the operator can run with exactly its RBAC permissions.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ApiextensionsV1Api, CoreV1Api, KubeConfig, loadYaml, type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { waitFor } from './processes.ts';

const root = resolve(import.meta.dirname, '../..');

/**
 * The CRDs as the client's typed objects. loadYaml maps wire names to the client's property names
 * (`enum` → `_enum`, `x-kubernetes-validations` → `xKubernetesValidations`); a plain parse would have the
 * client's serializer silently drop those fields on the way to the API server.
 */
export function crdManifests(): V1CustomResourceDefinition[] {
  const dir = join(root, 'crds');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => loadYaml<V1CustomResourceDefinition>(readFileSync(join(dir, f), 'utf8')));
}

/** Creates (or replaces) every CRD in crds/ and waits until each is Established. */
export async function installCrds(kc: KubeConfig): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const crds = crdManifests();
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    try {
      const current = await api.readCustomResourceDefinition({ name });
      crd.metadata!.resourceVersion = current.metadata!.resourceVersion;
      await api.replaceCustomResourceDefinition({ name, body: crd });
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
      await api.createCustomResourceDefinition({ body: crd });
    }
  }
  for (const crd of crds) {
    const name = crd.metadata!.name!;
    const established = async (): Promise<boolean> =>
      (await api.readCustomResourceDefinition({ name })).status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') === true;
    await waitFor(`CRD ${name} Established`, established, 30_000);
  }
}

/**
 * A KubeConfig that authenticates as `system:serviceaccount:<namespace>:<name>` with a short-lived token from
 * the TokenRequest API — the same identity a pod of that ServiceAccount gets.
 */
export async function serviceAccountKubeConfig(admin: KubeConfig, namespace: string, name: string, expirationSeconds = 3600): Promise<KubeConfig> {
  const core = admin.makeApiClient(CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { expirationSeconds, audiences: [] } } });
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster }],
    users: [{ name: `${namespace}-${name}`, token: tr.status!.token }],
    contexts: [{ name: 'sa', cluster: cluster.name, user: `${namespace}-${name}`, namespace }],
    currentContext: 'sa',
  });
  return kc;
}
