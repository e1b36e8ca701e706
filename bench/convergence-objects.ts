// The objects of the convergence bench's scale part: namespaces labelled for injection, one Service and one
// Deployment per service (pods pinned round-robin to kwok's fake Nodes, since no scheduler runs), and a dash of
// mesh config: a VirtualService for every tenth service and a DestinationRule for another tenth.
// Pods are created as they are, without the injecting webhook: the namespace label alone makes weft count them
// as sidecar workloads (src/model/injection.ts podHasSidecar), which is all the operator needs to write config.
import { HttpMethod } from '@kubernetes/client-node';
import type { KubeClient } from '../src/controllers/kube-client.ts';
import { INJECTION_LABEL } from '../src/model/injection.ts';
import { eachLimited } from './convergence-cluster.ts';

/** Services per namespace: 1000 services spread over 20 namespaces. */
const PER_NAMESPACE = 50;
const CONCURRENCY = 32;

export interface ScaleShape {
  services: number;
  replicas: number;
  namespaces: string[];
  /** `namespace/name` of every Service (and its Deployment, the workload). */
  workloads: Array<{ namespace: string; name: string }>;
  virtualServices: Array<{ namespace: string; name: string }>;
  destinationRules: Array<{ namespace: string; name: string }>;
}

export function scaleShape(services: number, pods: number): ScaleShape {
  const namespaces = Array.from({ length: Math.ceil(services / PER_NAMESPACE) }, (_, i) => `bench-${i}`);
  const workloads = Array.from({ length: services }, (_, i) => ({ namespace: namespaces[Math.floor(i / PER_NAMESPACE)]!, name: `svc-${i}` }));
  const every = (offset: number) => workloads.filter((_, i) => i % 10 === offset);
  return {
    services,
    replicas: Math.max(1, Math.round(pods / services)),
    namespaces,
    workloads,
    virtualServices: every(0),
    destinationRules: every(5),
  };
}

function service(namespace: string, name: string): Record<string, unknown> {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: { namespace, name, labels: { app: name } },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  };
}

function deployment(namespace: string, name: string, replicas: number, node: string): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { namespace, name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, version: 'v1' } },
        spec: {
          nodeName: node,
          terminationGracePeriodSeconds: 0,
          containers: [{ name: 'app', image: 'registry.invalid/bench-app:1', ports: [{ name: 'http', containerPort: 8080 }] }],
        },
      },
    },
  };
}

const host = (w: { namespace: string; name: string }) => `${w.name}.${w.namespace}.svc.cluster.local`;

/** A VirtualService with a prefix route and a default one; `timeout` is what the incremental step changes. */
export function virtualService(w: { namespace: string; name: string }, timeout = '5s'): Record<string, unknown> {
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { namespace: w.namespace, name: w.name },
    spec: {
      hosts: [host(w)],
      http: [
        { match: [{ uri: { prefix: '/api/' } }], route: [{ destination: { host: host(w), port: { number: 80 } } }], timeout, retries: { attempts: 2, perTryTimeout: '1s' } },
        { route: [{ destination: { host: host(w), port: { number: 80 } } }] },
      ],
    },
  };
}

function destinationRule(w: { namespace: string; name: string }): Record<string, unknown> {
  return {
    apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { namespace: w.namespace, name: w.name },
    spec: {
      host: host(w),
      trafficPolicy: {
        loadBalancer: { simple: 'LEAST_REQUEST' },
        connectionPool: { http: { http1MaxPendingRequests: 100, maxRequestsPerConnection: 10 } },
        outlierDetection: { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '30s' },
      },
    },
  };
}

/** Creates everything (namespaces first); returns when every create call has answered. */
export async function createObjects(client: KubeClient, shape: ScaleShape, nodes: readonly string[]): Promise<void> {
  const post = (path: string, body: unknown) => client.request(HttpMethod.POST, path, { body });
  for (const ns of [...shape.namespaces, 'weft-system']) {
    const labels = ns === 'weft-system' ? {} : { [INJECTION_LABEL]: 'enabled' };
    await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } });
  }
  await eachLimited(shape.workloads, CONCURRENCY, async (w) => {
    await post(`/api/v1/namespaces/${w.namespace}/services`, service(w.namespace, w.name));
  });
  await eachLimited(shape.virtualServices, CONCURRENCY, async (w) => {
    await post(`/apis/networking.istio.io/v1/namespaces/${w.namespace}/virtualservices`, virtualService(w));
  });
  await eachLimited(shape.destinationRules, CONCURRENCY, async (w) => {
    await post(`/apis/networking.istio.io/v1/namespaces/${w.namespace}/destinationrules`, destinationRule(w));
  });
  let i = 0;
  await eachLimited(shape.workloads, CONCURRENCY, async (w) => {
    await post(`/apis/apps/v1/namespaces/${w.namespace}/deployments`, deployment(w.namespace, w.name, shape.replicas, nodes[i++ % nodes.length]!));
  });
}
