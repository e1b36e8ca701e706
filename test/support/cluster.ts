// The integration tier's API server: one real control plane per test run, started on first use and stopped by
// the global teardown. Each test file works in its own namespaces.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApiextensionsV1Api, CoreV1Api, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { ControlPlane } from '../../hack/local-cluster/control-plane.ts';

export type Cluster = ControlPlane;

let shared: Promise<ControlPlane> | undefined;

export function sharedCluster(): Promise<ControlPlane> {
  shared ??= ControlPlane.start({ log: (l) => process.stderr.write(`      ${l}\n`) });
  return shared;
}

export async function stopSharedCluster(): Promise<void> {
  if (!shared) return;
  const cp = await shared.catch(() => undefined);
  shared = undefined;
  await cp?.stop();
}

const root = resolve(import.meta.dirname, '../..');

export function crdManifests(): V1CustomResourceDefinition[] {
  const dir = join(root, 'crds');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => parse(readFileSync(join(dir, f), 'utf8'), { merge: true, maxAliasCount: -1 }) as V1CustomResourceDefinition);
}

/** Creates (or replaces) every CRD in crds/ and waits until each is Established. */
export async function installCrds(kc: KubeConfig): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  for (const crd of crdManifests()) {
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
  for (const crd of crdManifests()) {
    const name = crd.metadata!.name!;
    for (let i = 0; ; i++) {
      const c = await api.readCustomResourceDefinition({ name });
      if (c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True')) break;
      if (i > 300) throw new Error(`CRD ${name} not Established`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

let nsCounter = 0;

/** A fresh namespace with a unique name; labels optional. */
export async function createNamespace(kc: KubeConfig, prefix: string, labels?: Record<string, string>): Promise<string> {
  const name = `${prefix}-${process.pid}-${++nsCounter}`;
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name, labels } } });
  return name;
}
