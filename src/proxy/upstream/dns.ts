// STRICT_DNS resolution: every hostname endpoint becomes one host per address it resolves to (in the cluster's
// lookup family), re-resolved every dns_refresh_rate. The last good answer stays when a lookup fails. Timers are
// unref'd so a cluster never keeps the process alive.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { EndpointDesc } from './endpoints.ts';

export type LookupFamily = 0 | 4 | 6;

export function lookupFamily(v: unknown): LookupFamily {
  return v === 'V4_ONLY' || v === 1 ? 4 : v === 'V6_ONLY' || v === 2 ? 6 : 0;
}

export interface DnsWatch {
  /** Resolves after the first round of lookups (successful or not). */
  readonly ready: Promise<void>;
  close(): void;
}

export function watchDns(descs: readonly EndpointDesc[], family: LookupFamily, refreshMs: number,
  onResolved: (expanded: EndpointDesc[]) => void): DnsWatch {
  const last = new Map<string, string[]>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let shown = '';

  const resolveOne = async (name: string): Promise<string[]> => {
    if (isIP(name)) return [name];
    try {
      const found = await lookup(name, { all: true, family });
      const ips = found.map((a) => a.address).sort();
      last.set(name, ips);
      return ips;
    } catch {
      return last.get(name) ?? [];
    }
  };

  const round = async (): Promise<void> => {
    const names = [...new Set(descs.map((d) => d.address))];
    const answers = new Map(await Promise.all(names.map(async (n) => [n, await resolveOne(n)] as const)));
    if (closed) return;
    const expanded = descs.flatMap((d) => (answers.get(d.address) ?? []).map((ip) => ({ ...d, address: ip })));
    const key = JSON.stringify(expanded.map((e) => [e.address, e.port, e.weight, e.priority, e.health]));
    if (key !== shown) {
      shown = key;
      onResolved(expanded);
    }
    timer = setTimeout(() => void round(), Math.max(1000, refreshMs));
    timer.unref();
  };

  const ready = round();
  return {
    ready,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
    },
  };
}
