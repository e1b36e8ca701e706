// IST0145 ConflictingGateways for Gateway status: two Gateways that configure the same gateway proxies (the
// same selector, as Istio's analyzer has it, or a gateway workload both select) with servers on the same port
// whose hosts overlap (equal, or one wildcard covering the other; the `ns/` part ignored). Translation serves the
// server of the oldest Gateway for such a host (gateway-listeners.ts, gateway-vhosts.ts); the message is written
// on every Gateway of the conflict. Also the servers a gateway workload does not serve at all (a port another
// server's protocol holds, an unsupported mode), for the same status. Pure: snapshot in, messages by Gateway key out.
import type { Gateway } from '../api/index.ts';
import { compare, nameOf, namespaceOf, selectorMatches, stringMap } from '../model/kube.ts';
import { hostMatches } from '../model/hosts.ts';
import type { ObjectKey, Snapshot } from '../model/types.ts';
import { gatewayServers, gatewaysFor, mergeServers } from './gateway-servers.ts';
import { objectKey } from './names.ts';

export const CONFLICTING_GATEWAYS = { code: 'IST0145', name: 'ConflictingGateways' } as const;

export interface GatewayConflict {
  code: 'IST0145';
  name: 'ConflictingGateways';
  /** The server of this Gateway in conflict: `spec.servers[<i>]`. */
  field: string;
  /** Names the other Gateways, the workload selector, the port and the overlapping hosts. */
  message: string;
  /** The other Gateways' keys (`Gateway/ns/name`), sorted. */
  conflictsWith: ObjectKey[];
}

const keyOf = (g: Gateway): ObjectKey => objectKey('Gateway', namespaceOf(g), nameOf(g));
const refOf = (g: Gateway): string => `${namespaceOf(g)}/${nameOf(g)}`;

function selectorText(g: Gateway): string {
  return Object.entries(stringMap(g.spec?.selector)).sort(([a], [b]) => compare(a, b)).map(([k, v]) => `${k}=${v}`).join(',');
}

const bareHost = (h: string): string => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h);
const overlap = (a: string, b: string): boolean => hostMatches(a, b) || hostMatches(b, a);

/** Conflict messages by Gateway key; Gateways without conflicts are absent. */
export function gatewayConflicts(snapshot: Snapshot): Map<ObjectKey, GatewayConflict[]> {
  const gateways = snapshot.config.gateways;
  const gatewayWorkloads = snapshot.workloads.filter((w) => w.mode === 'gateway');
  const selected = gateways.map((g) => new Set(gatewayWorkloads
    .filter((w) => selectorMatches(stringMap(g.spec?.selector), w.labels))
    .map((w) => `${w.namespace}/${w.name}`)));
  const sameProxies = (i: number, j: number): boolean =>
    selectorText(gateways[i]!) === selectorText(gateways[j]!) || [...selected[i]!].some((w) => selected[j]!.has(w));

  const out = new Map<ObjectKey, GatewayConflict[]>();
  gateways.forEach((g, i) => {
    const found: GatewayConflict[] = [];
    (g.spec?.servers ?? []).forEach((server, si) => {
      const others = new Set<string>();
      const keys = new Set<ObjectKey>();
      const hosts = new Set<string>();
      gateways.forEach((o, j) => {
        if (i === j || !sameProxies(i, j)) return;
        for (const os of o.spec?.servers ?? []) {
          if (os.port.number !== server.port.number) continue;
          for (const h of server.hosts.map(bareHost)) {
            if (!os.hosts.map(bareHost).some((oh) => overlap(h, oh))) continue;
            hosts.add(h);
            others.add(refOf(o));
            keys.add(keyOf(o));
          }
        }
      });
      if (others.size === 0) return;
      found.push({
        ...CONFLICTING_GATEWAYS,
        field: `spec.servers[${si}]`,
        message: `Conflict with gateways ${[...others].sort().join(',')} (workload selector ${selectorText(g) || '<all>'}, `
          + `port ${server.port.number}, hosts ${[...hosts].sort().join(',')}).`,
        conflictsWith: [...keys].sort(),
      });
    });
    if (found.length > 0) out.set(keyOf(g), found);
  });
  return out;
}

export interface RejectedGatewayServer {
  /** `spec.servers[<i>]` */
  field: string;
  /** Why it is not served, and by which gateway workload. */
  message: string;
}

/** Servers left out when the Gateways of each gateway workload are merged (mergeServers), by Gateway key. */
export function rejectedGatewayServers(snapshot: Snapshot): Map<ObjectKey, RejectedGatewayServer[]> {
  const out = new Map<ObjectKey, RejectedGatewayServer[]>();
  const seen = new Set<string>();
  for (const w of snapshot.workloads) {
    if (w.mode !== 'gateway') continue;
    const { rejected } = mergeServers(gatewaysFor(snapshot, w).flatMap(gatewayServers));
    for (const { server, reason } of rejected) {
      const field = `spec.servers[${server.index}]`;
      // The same Gateway usually selects several workloads merging alike: one message per server and reason.
      const id = `${server.key} ${field} ${reason}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.set(server.key, [...(out.get(server.key) ?? []), { field, message: `not served by ${w.namespace}/${w.name}: ${reason}` }]);
    }
  }
  return out;
}
