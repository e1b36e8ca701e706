// kube-proxy's job on the local node, in its iptables mode: a ClusterIP:port is DNATed to one of the Service's
// ready endpoints (chosen at random), in the node's network namespace, which every pod's traffic to an address off
// its own subnet goes through. Traffic it redirects is masqueraded, so the answer comes back the same way (pods
// share one bridge, and a reply sent straight to the client would miss the reverse translation). Clients with a
// sidecar never get here: their proxy connects to endpoints itself.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';

export function renderRules(services: Iterable<V1Service>, slices: Iterable<V1EndpointSlice>): string {
  const byService = new Map<string, V1EndpointSlice[]>();
  for (const sl of slices) {
    const key = `${sl.metadata?.namespace}/${sl.metadata?.labels?.['kubernetes.io/service-name']}`;
    byService.set(key, [...(byService.get(key) ?? []), sl]);
  }
  const chains: string[] = [];
  const rules: string[] = ['-A PREROUTING -j WEFT-SERVICES', '-A OUTPUT -j WEFT-SERVICES', '-A POSTROUTING -m conntrack --ctstate DNAT -j MASQUERADE'];
  for (const svc of [...services].sort((a, b) => `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`))) {
    const ip = svc.spec?.clusterIP;
    if (!ip || ip === 'None' || ip.includes(':')) continue;
    const key = `${svc.metadata?.namespace}/${svc.metadata?.name}`;
    for (const port of svc.spec?.ports ?? []) {
      if ((port.protocol ?? 'TCP') !== 'TCP') continue;
      const targets: string[] = [];
      for (const sl of byService.get(key) ?? []) {
        const target = sl.ports?.find((p) => (p.name ?? '') === (port.name ?? ''))?.port;
        if (!target || sl.addressType !== 'IPv4') continue;
        for (const e of sl.endpoints ?? []) if (e.conditions?.ready !== false) for (const a of e.addresses) targets.push(`${a}:${target}`);
      }
      if (targets.length === 0) continue;
      const chain = `WEFT-SVC-${createHash('sha256').update(`${key}:${port.port}`).digest('hex').slice(0, 16).toUpperCase()}`;
      chains.push(`:${chain} - [0:0]`);
      rules.push(`-A WEFT-SERVICES -d ${ip}/32 -p tcp -m tcp --dport ${port.port} -j ${chain}`);
      targets.sort().forEach((t, i) => {
        const left = targets.length - i;
        const pick = left > 1 ? `-m statistic --mode random --probability ${(1 / left).toFixed(5)} ` : '';
        rules.push(`-A ${chain} -p tcp ${pick}-j DNAT --to-destination ${t}`);
      });
    }
  }
  return ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ':WEFT-SERVICES - [0:0]', ...chains, ...rules, 'COMMIT', ''].join('\n');
}

export class ServiceProxy {
  private applied = '';
  private readonly nodeNs: string;
  private readonly toolsBin: string;
  private readonly log: (l: string) => void;

  constructor(o: { nodeNs: string; toolsBin: string; log?: (l: string) => void }) {
    this.nodeNs = o.nodeNs;
    this.toolsBin = o.toolsBin;
    this.log = o.log ?? (() => {});
  }

  /** Replaces the node namespace's nat table when the rules changed (one atomic iptables-restore). */
  update(services: Iterable<V1Service>, slices: Iterable<V1EndpointSlice>): void {
    const rules = renderRules(services, slices);
    if (rules === this.applied) return;
    try {
      execFileSync('ip', ['netns', 'exec', this.nodeNs, join(this.toolsBin, 'iptables-restore'), '-w'], { input: rules, stdio: ['pipe', 'ignore', 'pipe'] });
      this.applied = rules;
    } catch (e) {
      this.log(`service proxy: iptables-restore failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`);
    }
  }
}
