// The objects the injector adds to a pod. In: the pod's settings (inject-options.ts), its workload and service
// account names, the app probes moved to the proxy. Out: the weft-init and weft-proxy containers and the three
// volumes the proxy reads (config, identity, trust bundle).
import { PROXY_CONTAINER } from '../model/injection.ts';
import { ROOT_CERT_CONFIGMAP, identitySecretName } from '../controllers/identity/desired.ts';
import { SIDECAR_NODE_FLAGS } from '../proxy/node-flags.ts';
import { IDENTITY_DIR } from '../translate/identity-files.ts';
import { PROXY_CONFIG_DIR, proxyConfigMapName } from '../translate/envoy/bundle-format.ts';
import { IPTABLES_SCRIPT, iptablesEnv } from './inject-iptables.ts';
import { ADMIN_PORT, HEALTH_PORT, METRICS_PORT, PROXY_PORTS, PROXY_UID, STATUS_PORT, type PodSettings } from './inject-options.ts';
import { APP_PROBERS_ENV } from './inject-probes.ts';

export const INIT_CONTAINER = 'weft-init';
export const ROOT_CERT_DIR = '/etc/weft/root-cert';
export const VOLUMES = { config: 'weft-proxy-config', identity: 'weft-identity', rootCert: 'weft-root-cert' } as const;

/**
 * The admin endpoint (which can stop the proxy) stays on loopback; the kubelet's probes come from the node to the
 * pod IP, so readiness is also served on the health port, which answers nothing else. Neither port is captured
 * (PROXY_PORTS).
 */
const ADMIN_BIND = `127.0.0.1:${ADMIN_PORT}`;
const HEALTH_BIND = `0.0.0.0:${HEALTH_PORT}`;

export function proxyVolumes(workload: string, serviceAccount: string): Array<Record<string, unknown>> {
  // optional: the operator writes these after it sees the pod; the kubelet fills the volumes in once they exist,
  // and the proxy stays unready until its config is there.
  return [
    { name: VOLUMES.config, configMap: { name: proxyConfigMapName(workload), optional: true } },
    { name: VOLUMES.identity, secret: { secretName: identitySecretName(serviceAccount), optional: true } },
    { name: VOLUMES.rootCert, configMap: { name: ROOT_CERT_CONFIGMAP, optional: true } },
  ];
}

export function initContainer(s: PodSettings): Record<string, unknown> {
  return {
    name: INIT_CONTAINER,
    image: s.initImage,
    command: ['sh', '-c', IPTABLES_SCRIPT],
    env: iptablesEnv([...PROXY_PORTS, ...s.excludeInbound], s.excludeOutbound),
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
    securityContext: {
      // Root with exactly the two capabilities iptables needs in the pod's own network namespace.
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
}

const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });

/** Polls /ready from inside the container; the postStart hook of the `container` mode waits on it. */
const WAIT_READY =
  `const end=Date.now()+120000;(function f(){fetch('http://127.0.0.1:${ADMIN_PORT}/ready')` +
  `.then(r=>{if(r.ok)process.exit(0);throw new Error(String(r.status))})` +
  `.catch(()=>Date.now()>end?process.exit(1):setTimeout(f,200))})()`;

function proxyResources(s: PodSettings): Record<string, unknown> {
  const limits: Record<string, string> = {};
  if (s.cpuLimit) limits.cpu = s.cpuLimit;
  if (s.memoryLimit) limits.memory = s.memoryLimit;
  const resources: Record<string, unknown> = { requests: { cpu: s.cpu, memory: s.memory } };
  if (Object.keys(limits).length > 0) resources.limits = limits;
  return resources;
}

export function proxyContainer(s: PodSettings, probers: Record<string, unknown>): Record<string, unknown> {
  const readyProbe = { httpGet: { path: '/healthz/ready', port: HEALTH_PORT, scheme: 'HTTP' }, timeoutSeconds: 3 };
  const env: Array<Record<string, unknown>> = [
    fieldEnv('POD_NAME', 'metadata.name'),
    fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
    fieldEnv('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
    fieldEnv('INSTANCE_IP', 'status.podIP'),
  ];
  if (Object.keys(probers).length > 0) env.push({ name: APP_PROBERS_ENV, value: JSON.stringify(probers) });
  const container: Record<string, unknown> = {
    name: PROXY_CONTAINER,
    image: s.image,
    command: ['node', ...SIDECAR_NODE_FLAGS, 'dist/cli/weft.js', 'proxy'],
    args: ['--config-dir', PROXY_CONFIG_DIR, '--identity-dir', IDENTITY_DIR, '--admin', ADMIN_BIND, '--health', HEALTH_BIND, '--status', `0.0.0.0:${STATUS_PORT}`, '--prometheus', `0.0.0.0:${METRICS_PORT}`, '--log-level', s.logLevel],
    ports: [{ name: 'http-envoy-prom', containerPort: METRICS_PORT, protocol: 'TCP' }, { name: 'health', containerPort: HEALTH_PORT, protocol: 'TCP' }],
    env,
    resources: proxyResources(s),
    readinessProbe: { ...readyProbe, periodSeconds: 5, failureThreshold: 3 },
    securityContext: {
      runAsUser: PROXY_UID,
      runAsGroup: PROXY_UID,
      runAsNonRoot: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: VOLUMES.config, mountPath: PROXY_CONFIG_DIR, readOnly: true },
      { name: VOLUMES.identity, mountPath: IDENTITY_DIR, readOnly: true },
      { name: VOLUMES.rootCert, mountPath: ROOT_CERT_DIR, readOnly: true },
    ],
  };
  if (s.mode === 'native') {
    // A native sidecar's startup probe gates the app containers: they start once the proxy is ready.
    container.restartPolicy = 'Always';
    container.startupProbe = { ...readyProbe, periodSeconds: 1, failureThreshold: 600 };
  } else {
    // The kubelet starts containers in order and runs the next only after this hook returns.
    container.lifecycle = { postStart: { exec: { command: ['node', '-e', WAIT_READY] } } };
  }
  return container;
}
