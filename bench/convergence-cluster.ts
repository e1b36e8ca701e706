// The cluster of the convergence bench's scale part: a local control plane, kube-controller-manager with a raised
// client rate limit, weft's CRDs, and kwok simulating a few fake Nodes, so thousands of pods become Running and
// Ready with no kubelet and no container. In: sizes and a deadline. Out: a ScaleCluster; stop() removes it all.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpMethod, type KubeConfig } from '@kubernetes/client-node';
import { ControlPlane } from '../hack/local-cluster/control-plane.ts';
import { installCrds } from '../hack/local-cluster/manifests.ts';
import { freePort, startProcess, stopProcess, waitFor, type Proc } from '../hack/local-cluster/processes.ts';
import { KubeClient } from '../src/controllers/kube-client.ts';

export const KWOK_ANNOTATION = 'kwok.x-k8s.io/node';

export interface ScaleCluster {
  cp: ControlPlane;
  kc: KubeConfig;
  client: KubeClient;
  nodes: string[];
  stop(o?: { keepDir?: boolean }): Promise<void>;
}

/**
 * kube-controller-manager's client rate limit raised for a scale run: the default (20 requests/s) would spend most
 * of the run creating 5000 pods and updating their owners' status.
 */
const KCM_SCALE_ARGS = [
  '--kube-api-qps=300',
  '--kube-api-burst=600',
  '--concurrent-replicaset-syncs=16',
  '--concurrent-deployment-syncs=16',
  '--concurrent-service-endpoint-syncs=16',
];

/**
 * kwok's lifecycle, as the two Stages this bench needs (kwok has no default stages): a fake Node becomes Ready
 * with an address, a pod bound to one becomes Running and Ready with an address from --cidr. Nothing else runs
 * (no heartbeat: no node lifecycle controller runs to notice; no delete: the whole cluster is removed at the end).
 */
const STAGES = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: node-ready}
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
    - {key: '.status.conditions.[] | select( .type == "Ready" ) | .status', operator: NotIn, values: ['True']}
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {type: Ready, status: "True", reason: KubeletReady, message: kwok, lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }}}
      addresses:
      - {type: InternalIP, address: {{ NodeIP | Quote }}}
      - {type: Hostname, address: {{ NodeName | Quote }}}
      phase: Running
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: pod-ready}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: .metadata.deletionTimestamp, operator: DoesNotExist}
    - {key: .status.podIP, operator: DoesNotExist}
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - {type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: Ready, status: "True", lastTransitionTime: {{ $now | Quote }}}
      - {type: ContainersReady, status: "True", lastTransitionTime: {{ $now | Quote }}}
      containerStatuses:
      {{ range .spec.containers }}
      - {name: {{ .name | Quote }}, image: {{ .image | Quote }}, ready: true, restartCount: 0, started: true, state: {running: {startedAt: {{ $now | Quote }}}}}
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName false ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      phase: Running
      startTime: {{ $now | Quote }}
`;

/** kwok managing only the Nodes annotated for it. Pod addresses exist only in API objects: nothing is sent there. */
function startKwok(cp: ControlPlane, serverPort: number): Proc {
  const config = join(cp.dir, 'kwok-stages.yaml');
  writeFileSync(config, STAGES);
  return startProcess('kwok', join(cp.bin, 'kwok'), [
    `--config=${config}`,
    `--kubeconfig=${cp.kubeconfigPath}`,
    `--manage-all-nodes=false`,
    `--manage-nodes-with-annotation-selector=${KWOK_ANNOTATION}=fake`,
    `--cidr=10.244.0.0/16`,
    `--node-ip=10.243.0.1`,
    `--server-address=127.0.0.1:${serverPort}`,
    `--node-lease-duration-seconds=40`,
  ], join(cp.dir, 'kwok.log'));
}

function fakeNode(name: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, annotations: { [KWOK_ANNOTATION]: 'fake' }, labels: { type: 'kwok', 'kubernetes.io/hostname': name } },
    spec: {},
    status: {
      allocatable: { cpu: '1000', memory: '4Ti', pods: '10000' },
      capacity: { cpu: '1000', memory: '4Ti', pods: '10000' },
    },
  };
}

export async function startScaleCluster(nodeCount: number, log: (l: string) => void): Promise<ScaleCluster> {
  const cp = await ControlPlane.start({ controllerManager: true, controllerManagerArgs: KCM_SCALE_ARGS, log });
  const procs: Proc[] = [];
  const stop = async (o: { keepDir?: boolean } = {}): Promise<void> => {
    for (const p of procs.reverse()) await stopProcess(p);
    await cp.stop(o);
  };
  try {
    const kc = cp.kubeConfig();
    const client = new KubeClient(kc);
    log('installing the CRDs');
    await installCrds(kc);
    const kwok = startKwok(cp, await freePort());
    procs.push(kwok);
    const nodes = Array.from({ length: nodeCount }, (_, i) => `kwok-node-${i}`);
    for (const n of nodes) await client.request(HttpMethod.POST, '/api/v1/nodes', { body: fakeNode(n) });
    log(`kwok: waiting for ${nodeCount} fake Nodes to be Ready`);
    await waitFor('kwok Nodes Ready', async () => {
      const list = await client.list<{ metadata?: object; status?: { conditions?: Array<{ type: string; status: string }> } }>('/api/v1/nodes');
      return list.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === nodeCount;
    }, 60_000, kwok);
    return { cp, kc, client, nodes, stop };
  } catch (e) {
    await stop({ keepDir: process.env.WEFT_BENCH_KEEP === '1' });
    throw e;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}
