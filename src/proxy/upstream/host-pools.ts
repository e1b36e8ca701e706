// The pools of one host: one undici Pool per upstream protocol, created on first use, plus (for auto_sni
// clusters) one per SNI derived from the request's authority. Closing lets requests in flight finish.
import type { Pool } from 'undici';
import { createPool, sniFromAuthority } from './pools.ts';
import type { HostLink, LinkDeps } from './pools.ts';
import type { HostEntry } from './types.ts';

/** Distinct SNIs kept per host for auto_sni (the oldest pool is closed beyond this). */
const MAX_SNI_POOLS = 64;

export interface HostSlot extends HostLink {
  entry: HostEntry;
  http1?: Pool;
  http2?: Pool;
  /** auto_sni clusters: pools per protocol and SNI. */
  bySni?: Map<string, Pool>;
}

export function poolFor(slot: HostSlot, protocol: 'http1' | 'http2', link: LinkDeps, authority: string | undefined): Pool {
  if (authority !== undefined && slot.spec.kind === 'tls' && link.settings().autoSni) {
    const sni = sniFromAuthority(authority);
    if (sni) return sniPool(slot, protocol, link, sni);
  }
  if (protocol === 'http2') return (slot.http2 ??= createPool(slot, 'http2', link));
  return (slot.http1 ??= createPool(slot, 'http1', link));
}

function sniPool(slot: HostSlot, protocol: 'http1' | 'http2', link: LinkDeps, sni: string): Pool {
  slot.bySni ??= new Map();
  const key = `${protocol}|${sni}`;
  let pool = slot.bySni.get(key);
  if (!pool) {
    pool = createPool(slot, protocol, link, sni);
    slot.bySni.set(key, pool);
    if (slot.bySni.size > MAX_SNI_POOLS) {
      const [oldest, old] = slot.bySni.entries().next().value!;
      slot.bySni.delete(oldest);
      old.close().catch(() => {});
    }
  }
  return pool;
}

/** Closes the host's pools (requests in flight finish first); resolves when they are closed. */
export async function closePools(slot: HostSlot): Promise<void> {
  const pools = [slot.http1, slot.http2, ...(slot.bySni?.values() ?? [])];
  slot.http1 = undefined;
  slot.http2 = undefined;
  slot.bySni = undefined;
  await Promise.all(pools.map((p) => p?.close().catch(() => {})));
}
