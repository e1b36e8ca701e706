// Helpers shared by the operator integration tests: create/read mesh objects, wait for a condition,
// start an in-process operator with short timings.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Condition, MeshStatus, ValidationMessage } from '../../src/controllers/conditions.ts';
import { createLogger, silentLogger } from '../../src/controllers/log.ts';
import { startOperator, type Operator, type OperatorOptions } from '../../src/controllers/operator.ts';
import { RECONCILED } from '../../src/controllers/reconciler.ts';
import { apiVersionOf, type ResourceType } from '../../src/controllers/resources.ts';
import { KubeStatusWriter, type StatusWriter, type WriteResult } from '../../src/controllers/status-writer.ts';

export interface MeshObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; generation?: number; resourceVersion?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: MeshStatus & { conditions?: Condition[]; validationMessages?: ValidationMessage[] };
}

export function typeOf(kind: string): ResourceType {
  const t = RECONCILED.get(kind);
  if (!t) throw new Error(`not a mesh kind: ${kind}`);
  return t;
}

export class Mesh {
  readonly api: CustomObjectsApi;
  readonly core: CoreV1Api;
  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async create(kind: string, namespace: string, name: string, spec: Record<string, unknown>, labels?: Record<string, string>): Promise<MeshObject> {
    const t = typeOf(kind);
    const body = { apiVersion: apiVersionOf(t), kind, metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec };
    return (await this.api.createNamespacedCustomObject({ group: t.group, version: t.version, namespace, plural: t.plural, body })) as MeshObject;
  }

  async createRaw(doc: { apiVersion: string; kind: string; metadata: Record<string, unknown> }, namespace: string): Promise<MeshObject> {
    const t = typeOf(doc.kind);
    const version = doc.apiVersion.split('/')[1]!;
    const body = { ...doc, metadata: { ...doc.metadata, namespace } };
    return (await this.api.createNamespacedCustomObject({ group: t.group, version, namespace, plural: t.plural, body })) as MeshObject;
  }

  async get(kind: string, namespace: string, name: string): Promise<MeshObject> {
    const t = typeOf(kind);
    return (await this.api.getNamespacedCustomObject({ group: t.group, version: t.version, namespace, plural: t.plural, name })) as MeshObject;
  }

  async list(kind: string, namespace: string): Promise<MeshObject[]> {
    const t = typeOf(kind);
    const l = (await this.api.listNamespacedCustomObject({ group: t.group, version: t.version, namespace, plural: t.plural })) as { items: MeshObject[] };
    return l.items;
  }

  /** Read-modify-write of the spec (retries on conflict). */
  async updateSpec(kind: string, namespace: string, name: string, mutate: (spec: Record<string, unknown>) => void): Promise<MeshObject> {
    const t = typeOf(kind);
    for (let i = 0; ; i++) {
      const obj = await this.get(kind, namespace, name);
      obj.spec ??= {};
      mutate(obj.spec);
      try {
        return (await this.api.replaceNamespacedCustomObject({ group: t.group, version: t.version, namespace, plural: t.plural, name, body: obj })) as MeshObject;
      } catch (e) {
        if ((e as { code?: number }).code !== 409 || i > 5) throw e;
      }
    }
  }

  async delete(kind: string, namespace: string, name: string): Promise<void> {
    const t = typeOf(kind);
    await this.api.deleteNamespacedCustomObject({ group: t.group, version: t.version, namespace, plural: t.plural, name });
  }

  async createService(namespace: string, name: string, selector: Record<string, string> = { app: name }): Promise<void> {
    await this.core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { selector, ports: [{ name: 'http', port: 9080 }] } } });
  }

  /** A pod that never runs (no nodes needed); retried while the namespace's default ServiceAccount appears. */
  async createPod(namespace: string, name: string, labels: Record<string, string>): Promise<void> {
    const body = { metadata: { name, labels }, spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image: 'example.invalid/app:1' }] } };
    await retry(() => this.core.createNamespacedPod({ namespace, body }), 30_000);
  }
}

export function condition(obj: MeshObject | undefined, type: string): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type);
}

export async function retry<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await sleep(200);
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `read` until `ok` holds; the error names what was awaited and the last value seen. */
export async function waitFor<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last ?? String(lastErr))?.slice(0, 2000)}`);
    }
    await sleep(100);
  }
}

/** Waits until the object's status describes its current generation and both conditions are present. */
export async function waitForStatus(mesh: Mesh, kind: string, ns: string, name: string, ok: (o: MeshObject) => boolean = () => true, timeoutMs?: number): Promise<MeshObject> {
  return waitFor(
    `status of ${kind} ${ns}/${name}`,
    () => mesh.get(kind, ns, name),
    (o) =>
      o.status?.observedGeneration === o.metadata.generation &&
      condition(o, 'Accepted')?.observedGeneration === o.metadata.generation &&
      condition(o, 'ResolvedRefs')?.observedGeneration === o.metadata.generation &&
      ok(o),
    timeoutMs,
  );
}

/** An operator in this process with timings short enough for tests (workload identity off unless asked for); logs only with $WEFT_LOG_LEVEL. */
export async function testOperator(kc: KubeConfig, opts: Partial<OperatorOptions> = {}): Promise<Operator> {
  return startOperator({
    kubeConfig: kc,
    leaderElect: false,
    leaseDurationMs: 3_000,
    renewDeadlineMs: 2_000,
    retryPeriodMs: 500,
    informerRetry: { baseMs: 100, maxMs: 2_000 },
    log: process.env.WEFT_LOG_LEVEL ? createLogger('operator') : silentLogger,
    // Workload identity writes Secrets and ConfigMaps of its own; only the tests about it turn it on.
    workloadIdentity: false,
    ...opts,
  });
}

/** A status writer that records every call (`Kind/ns/name` → outcome) on the way to the real one. */
export function recordingWriter(kc: KubeConfig): StatusWriter & { calls: Array<{ key: string; result: WriteResult }> } {
  const real = new KubeStatusWriter(kc);
  const calls: Array<{ key: string; result: WriteResult }> = [];
  return {
    calls,
    async write(type, obj, status) {
      const result = await real.write(type, obj, status);
      calls.push({ key: `${type.kind}/${obj.metadata?.namespace}/${obj.metadata?.name}`, result });
      return result;
    },
  };
}
