// Helpers for the distribution tests on the shared API server: Deployments whose ReplicaSets and Pods the
// controller manager makes (no node runs them; the pods are made Running with an IP through the status
// subresource), EndpointSlices listing them, and reading the operator's ConfigMaps back.
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1ConfigMap, type V1Pod } from '@kubernetes/client-node';
import { proxyConfigMapName, PROXY_CONFIG_KEY, CONFIG_HASH_ANNOTATION } from '../../src/translate/envoy/bundle-format.ts';
import { unpackProxyConfig, type UnpackedProxyConfig } from '../../src/controllers/proxy-bundle.ts';
import { retry, sleep, waitFor } from './operator-support.ts';

type Kubectl = (args: string[], input?: string) => Promise<{ status: number; stdout: string; stderr: string }>;

export class Workloads {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  private readonly kubectl: Kubectl;
  constructor(kc: KubeConfig, kubectl: Kubectl) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.kubectl = kubectl;
  }

  /** A Deployment with `ips.length` replicas (pod template annotations optional); resolves with its pods once they
   * are Running with those IPs. */
  async deployment(ns: string, name: string, labels: Record<string, string>, ips: string[], annotations?: Record<string, string>): Promise<V1Pod[]> {
    await this.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'default' } } }).catch(() => undefined);
    await this.apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name, labels },
        spec: {
          replicas: ips.length,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels, ...(annotations ? { annotations } : {}) },
            spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image: 'example.invalid/app:1', ports: [{ name: 'http', containerPort: 9080 }] }] },
          },
        },
      },
    });
    const selector = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
    const pods = await waitFor(
      `pods of Deployment ${ns}/${name}`,
      async () => (await this.core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items,
      (ps) => ps.length === ips.length && ps.every((p) => p.metadata?.ownerReferences?.some((r) => r.kind === 'ReplicaSet')),
      60_000,
    );
    await Promise.all(pods.map((p, i) => this.run(ns, p.metadata!.name!, ips[i]!)));
    return pods;
  }

  /** Makes a pod look like a running, ready pod with `ip`. */
  async run(ns: string, name: string, ip: string): Promise<void> {
    await retry(
      () =>
        this.core.patchNamespacedPodStatus(
          { name, namespace: ns, body: { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      10_000,
    );
  }

  /** An EndpointSlice for a service, as a controller outside kube-controller-manager would write it (the
   * EndpointSlice controller leaves out pods bound to no node, which these are). */
  async endpointSlice(ns: string, service: string, endpoints: Array<{ ip: string; pod?: string }>, port = 9080): Promise<void> {
    const body = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${service}-weft-tests`, namespace: ns, labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'weft-tests' } },
      addressType: 'IPv4',
      endpoints: endpoints.map((e) => ({
        addresses: [e.ip],
        conditions: { ready: true },
        ...(e.pod ? { targetRef: { kind: 'Pod', namespace: ns, name: e.pod } } : {}),
      })),
      ports: [{ name: 'http', port, protocol: 'TCP' }],
    };
    await retry(async () => {
      const res = await this.kubectl(['apply', '-f', '-'], JSON.stringify(body));
      if (res.status !== 0) throw new Error(res.stderr);
    }, 10_000);
  }

  async configMap(ns: string, workload: string): Promise<V1ConfigMap | undefined> {
    try {
      return await this.core.readNamespacedConfigMap({ namespace: ns, name: proxyConfigMapName(workload) });
    } catch (e) {
      if ((e as { code?: number }).code === 404) return undefined;
      throw e;
    }
  }

  async waitConfigMap(ns: string, workload: string, ok: (cm: V1ConfigMap) => boolean = () => true, timeoutMs = 30_000): Promise<V1ConfigMap> {
    return (await waitFor(`ConfigMap ${ns}/${proxyConfigMapName(workload)}`, () => this.configMap(ns, workload), (cm) => cm !== undefined && ok(cm), timeoutMs))!;
  }

  async waitGone(ns: string, workload: string, timeoutMs = 60_000): Promise<void> {
    await waitFor(`ConfigMap ${ns}/${proxyConfigMapName(workload)} to go`, () => this.configMap(ns, workload), (cm) => cm === undefined, timeoutMs);
  }

  async pods(ns: string, selector: string): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items;
  }
}

export function hashOf(cm: V1ConfigMap): string | undefined {
  return cm.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
}

export function decode(cm: V1ConfigMap): UnpackedProxyConfig {
  return unpackProxyConfig(Buffer.from(cm.binaryData?.[PROXY_CONFIG_KEY] ?? '', 'base64'));
}

export const names = (objs: ReadonlyArray<Record<string, unknown>>, field = 'name'): string[] => objs.map((o) => String(o[field])).sort();

export { sleep };
