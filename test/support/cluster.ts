// The integration tier's API server: one real control plane per test run, started on first use and stopped by
// the global teardown. Each test file works in its own namespaces.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { ControlPlane } from '../../hack/local-cluster/control-plane.ts';

export type Cluster = ControlPlane;

let shared: Promise<ControlPlane> | undefined;

export function sharedCluster(): Promise<ControlPlane> {
  shared ??= ControlPlane.start({ controllerManager: true, log: (l) => process.stderr.write(`      ${l}\n`) });
  return shared;
}

export async function stopSharedCluster(): Promise<void> {
  if (!shared) return;
  const cp = await shared.catch(() => undefined);
  shared = undefined;
  await cp?.stop();
}

export { crdManifests, installCrds, serviceAccountKubeConfig } from '../../hack/local-cluster/manifests.ts';

let nsCounter = 0;

/** A fresh namespace with a unique name; labels optional. */
export async function createNamespace(kc: KubeConfig, prefix: string, labels?: Record<string, string>): Promise<string> {
  const name = `${prefix}-${process.pid}-${++nsCounter}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name, labels } } });
  return name;
}

/**
 * Deletes a namespace and waits until it is gone (its objects with it), so what a file left behind cannot reach
 * the next file's operator while the namespace controller is still emptying it.
 */
export async function deleteNamespace(kc: KubeConfig, name: string, timeoutMs = 90_000): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.deleteNamespace({ name }).catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const gone = await core.readNamespace({ name }).then(() => false, (e: { code?: number }) => e.code === 404);
    if (gone) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`namespace ${name} still exists ${timeoutMs / 1000} s after its deletion`);
}
