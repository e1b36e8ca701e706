// Application probes through the sidecar. In: the app containers. Out: per container, its httpGet probes
// rewritten to the proxy's status port (`/app-health/<container>/<livez|readyz|startupz>` on 15020) and the
// originals keyed by that path, for the proxy to forward to (env WEFT_APP_PROBERS on weft-proxy).
// Why: with mTLS required inbound, the kubelet's plain-text probes would be refused by the capture; the kubelet
// reaches 15020 directly (never captured) and the proxy probes the app over loopback.
import { list, num, record, str } from '../model/kube.ts';
import { STATUS_PORT } from './inject-options.ts';

export { APP_PROBERS_ENV } from '../proxy/admin/app-probes.ts';

const KINDS = [
  ['livenessProbe', 'livez'],
  ['readinessProbe', 'readyz'],
  ['startupProbe', 'startupz'],
] as const;

export interface ProbeRewrite {
  /** Index in spec.containers. */
  container: number;
  field: (typeof KINDS)[number][0];
  probe: Record<string, unknown>;
}

export interface ProbePlan {
  rewrites: ProbeRewrite[];
  /** `/app-health/<container>/<kind>` → the original probe (httpGet with a numeric port, timeoutSeconds). */
  probers: Record<string, unknown>;
}

export function planProbes(containers: readonly unknown[]): ProbePlan {
  const plan: ProbePlan = { rewrites: [], probers: {} };
  containers.forEach((raw, index) => {
    const c = record(raw);
    const name = str(c.name);
    if (!name) return;
    for (const [field, kind] of KINDS) {
      const probe = record(c[field]);
      const get = record(probe.httpGet);
      if (Object.keys(get).length === 0) continue; // exec, tcpSocket and grpc probes reach the app unchanged
      const port = resolvePort(get.port, c.ports);
      if (port === undefined) continue; // a port the API server will refuse anyway; leave it to say so
      const path = `/app-health/${name}/${kind}`;
      const original: Record<string, unknown> = { ...get, port };
      plan.probers[path] = { httpGet: original, ...(num(probe.timeoutSeconds) !== undefined ? { timeoutSeconds: probe.timeoutSeconds } : {}) };
      plan.rewrites.push({ container: index, field, probe: { ...probe, httpGet: { path, port: STATUS_PORT, scheme: 'HTTP' } } });
    }
  });
  return plan;
}

/** A probe's port: a number, a numeric string, or the name of one of the container's ports. */
function resolvePort(port: unknown, ports: unknown): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port !== 'string') return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  const named = list(ports).map(record).find((p) => p.name === port);
  return num(named?.containerPort);
}
