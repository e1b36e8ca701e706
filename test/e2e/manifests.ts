// The e2e tier's workloads, as the YAML a user would apply: a mesh namespace (injection on, STRICT mTLS) with an
// in-mesh client, a two-version `web` service, a `flaky` one failing every other request and a `backend` with one
// healthy and one failing pod; and a namespace without injection whose client has no sidecar.
export const NS = 'e2e-mesh';
export const PLAIN_NS = 'e2e-plain';
export const WEB = 'http://web:8000/';

const deployment = (name: string, labels: Record<string, string>, image: string, o: { sa?: string; replicas?: number; env?: Record<string, string>; ns?: string } = {}) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${o.ns ?? NS}}
spec:
  replicas: ${o.replicas ?? 1}
  selector: {matchLabels: ${JSON.stringify(labels)}}
  template:
    metadata: {labels: ${JSON.stringify(labels)}}
    spec:
      ${o.sa ? `serviceAccountName: ${o.sa}` : ''}
      terminationGracePeriodSeconds: 2
      containers:
      - name: ${image.includes('client') ? 'client' : 'app'}
        image: ${image}
        env: ${JSON.stringify(Object.entries(o.env ?? {}).map(([n, value]) => ({ name: n, value })))}
        ports: [{containerPort: 9080}]
`;

const service = (name: string) => `
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${NS}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 8000, targetPort: 9080}]
`;

const sa = (name: string) => `
apiVersion: v1
kind: ServiceAccount
metadata: {name: ${name}, namespace: ${NS}}
`;

export function webRoute(o: { v1: number; v2: number; fault?: number }): string {
  const fault = o.fault ? `
    fault:
      abort: {httpStatus: 503, percentage: {value: ${o.fault}}}` : '';
  return `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: ${NS}}
spec:
  hosts: [web]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: web, subset: v2}}]
  - route:
    - {destination: {host: web, subset: v1}, weight: ${o.v1}}
    - {destination: {host: web, subset: v2}, weight: ${o.v2}}${fault}
`;
}

export function flakyRoute(attempts: number): string {
  const retries = attempts > 0 ? `{attempts: ${attempts}, retryOn: 5xx, perTryTimeout: 2s}` : '{attempts: 0}';
  return `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: flaky, namespace: ${NS}}
spec:
  hosts: [flaky]
  http:
  - route: [{destination: {host: flaky}}]
    retries: ${retries}
`;
}

export function workloads(): string {
  return [
    `
apiVersion: v1
kind: Namespace
metadata: {name: ${NS}, labels: {weft-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ${PLAIN_NS}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: ${NS}}
spec: {mtls: {mode: STRICT}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: ${NS}}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: backend, namespace: ${NS}}
spec:
  host: backend
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 5m, maxEjectionPercent: 100}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: backend, namespace: ${NS}}
spec:
  hosts: [backend]
  http:
  - route: [{destination: {host: backend}}]
    retries: {attempts: 0}
`,
    webRoute({ v1: 90, v2: 10 }),
    flakyRoute(0),
    sa('client'), sa('web'), sa('flaky'), sa('backend'),
    service('web'), service('flaky'), service('backend'),
    deployment('client', { app: 'client' }, 'weft-examples/client:v1', { sa: 'client', replicas: 2 }),
    deployment('web-v1', { app: 'web', version: 'v1' }, 'weft-examples/httpbin:v1', { sa: 'web' }),
    deployment('web-v2', { app: 'web', version: 'v2' }, 'weft-examples/httpbin:v2', { sa: 'web' }),
    deployment('flaky', { app: 'flaky' }, 'weft-examples/httpbin:v1', { sa: 'flaky', env: { FAIL_EVERY: '2' } }),
    deployment('backend-good', { app: 'backend', version: 'good' }, 'weft-examples/httpbin:good', { sa: 'backend' }),
    deployment('backend-bad', { app: 'backend', version: 'bad' }, 'weft-examples/httpbin:bad', { sa: 'backend', env: { FAIL_RATE: '1' } }),
    deployment('outsider', { app: 'outsider' }, 'weft-examples/client:v1', { ns: PLAIN_NS }),
  ].join('---\n');
}
