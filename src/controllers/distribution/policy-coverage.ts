// Which workloads each AuthorizationPolicy and RequestAuthentication is meant to reach (pure: values in, values
// out), so that their Programmed condition counts the workloads enforcing them against those it selects, and what
// the whole snapshot shows about them: IST0127 when no workload with a sidecar is selected, and a CUSTOM policy
// whose authorizer speaks HTTP (envoyExtAuthzHttp) on workloads with TCP ports, which it cannot check.
// In: a Snapshot, the root namespace, which workloads get config. Out: coverage and findings by object key.
import { selectorMatches } from '../../model/kube.ts';
import type { ObjectKey, Protocol, Snapshot, Workload } from '../../model/types.ts';
import type { Finding } from '../../validate/result.ts';
import { NO_SIDECAR_MESSAGE } from '../conditions.ts';
import { configObjects, workloadKey, workloadsIn, type ConfigObject } from './snapshot-index.ts';

export type PolicyCoverage =
  /** Attached through targetRef/targetRefs (waypoints, Gateway API gateways): nothing in weft takes it. */
  | { kind: 'targetRef'; field: string }
  /** The workloads with config (sidecars, gateways) the policy selects, sorted. */
  | { kind: 'selector'; selected: string[] };

const POLICY_KINDS = ['AuthorizationPolicy', 'RequestAuthentication'];
const TCP_PROTOCOLS: ReadonlySet<Protocol> = new Set(['TCP', 'TLS', 'MONGO', 'MYSQL', 'REDIS']);
const MAX_LISTED = 3;

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const labels = (v: unknown): Record<string, string> => Object.fromEntries(Object.entries(rec(v)).filter(([, x]) => typeof x === 'string')) as Record<string, string>;

function coverageOf(o: ConfigObject, snap: Snapshot, root: string, distributed: (w: Workload) => boolean): PolicyCoverage {
  const spec = rec(o.spec);
  if (spec.targetRef !== undefined) return { kind: 'targetRef', field: 'spec.targetRef' };
  if (Array.isArray(spec.targetRefs) && spec.targetRefs.length > 0) return { kind: 'targetRef', field: 'spec.targetRefs' };
  const ns = o.metadata?.namespace ?? '';
  const selector = labels(rec(spec.selector).matchLabels);
  const pool = ns === root ? snap.workloads : workloadsIn(snap, ns);
  const selected = pool.filter((w) => distributed(w) && selectorMatches(selector, w.labels)).map(workloadKey).sort();
  return { kind: 'selector', selected };
}

export function policyCoverage(snap: Snapshot, root: string, distributed: (w: Workload) => boolean): Map<ObjectKey, PolicyCoverage> {
  const out = new Map<ObjectKey, PolicyCoverage>();
  for (const [key, o] of configObjects(snap)) {
    if (POLICY_KINDS.includes(key.slice(0, key.indexOf('/')))) out.set(key, coverageOf(o, snap, root, distributed));
  }
  return out;
}

/** TCP ports (declared by the Services selecting it) of a workload, as `port` numbers it listens on. */
function tcpPorts(snap: Snapshot, w: Workload): number[] {
  const ports = new Set<number>();
  for (const svc of snap.servicesOf(w)) {
    for (const p of svc.ports) if (TCP_PROTOCOLS.has(p.protocol)) ports.add(typeof p.targetPort === 'number' ? p.targetPort : p.port);
  }
  return [...ports].sort((a, b) => a - b);
}

/** IST0127 for policies that select no workload with config; WEFT0003 for CUSTOM policies with an HTTP authorizer
 * on workloads with TCP ports. */
export function policyFindings(snap: Snapshot, coverage: ReadonlyMap<ObjectKey, PolicyCoverage>): Map<ObjectKey, Finding[]> {
  const out = new Map<ObjectKey, Finding[]>();
  const objects = configObjects(snap);
  const providers = snap.options.extensionProviders ?? [];
  for (const [key, c] of coverage) {
    if (c.kind !== 'selector') continue;
    const spec = rec(objects.get(key)?.spec);
    const findings: Finding[] = [];
    if (c.selected.length === 0) {
      const hasSelector = Object.keys(labels(rec(spec.selector).matchLabels)).length > 0;
      findings.push({
        field: hasSelector ? 'spec.selector.matchLabels' : 'spec',
        message: NO_SIDECAR_MESSAGE,
        code: 'IST0127',
      });
    }
    if (key.startsWith('AuthorizationPolicy/') && spec.action === 'CUSTOM') {
      const name = rec(spec.provider).name;
      const provider = providers.find((p) => p.name === name);
      if (provider?.envoyExtAuthzHttp) {
        const hits: string[] = [];
        for (const wk of c.selected) {
          const [ns, n] = [wk.slice(0, wk.indexOf('/')), wk.slice(wk.indexOf('/') + 1)];
          const w = snap.workload(ns, n);
          const ports = w ? tcpPorts(snap, w) : [];
          if (ports.length > 0) hits.push(`${wk} (port${ports.length > 1 ? 's' : ''} ${ports.join(', ')})`);
        }
        if (hits.length > 0) {
          const shown = hits.slice(0, MAX_LISTED).join(', ') + (hits.length > MAX_LISTED ? ` and ${hits.length - MAX_LISTED} more` : '');
          findings.push({
            field: 'spec.provider.name',
            message: `extension provider "${String(name)}" is an HTTP authorizer (envoyExtAuthzHttp), which cannot check TCP traffic: the policy cannot be applied on the TCP ports of ${shown}`,
            code: 'WEFT0003',
          });
        }
      }
    }
    if (findings.length > 0) out.set(key, findings);
  }
  return out;
}
