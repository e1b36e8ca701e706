// Consistent-hash balancers: a ring (each host at many points, sized between minimum and maximum ring size by
// weight) and a Maglev lookup table (a prime number of slots filled by per-host permutations, weight-aware).
// Both are built once per host set; a pick is a binary search or one array index. Without a hash key a request
// lands on a random host. Host positions depend only on the host's address, so removing one host moves only the
// keys that were on it.
import { hash53 } from './hash.ts';
import type { Balancer, HostEntry } from './types.ts';

const DEFAULT_MIN_RING = 1024;
const DEFAULT_MAX_RING = 8 * 1024 * 1024;
const DEFAULT_MAGLEV_TABLE = 65537;

interface Ring {
  points: Float64Array;
  owners: Int32Array;
}

function buildRing(hosts: readonly HostEntry[], minSize = DEFAULT_MIN_RING, maxSize = DEFAULT_MAX_RING): Ring {
  const total = hosts.reduce((s, h) => s + h.weight, 0);
  const minWeight = Math.min(...hosts.map((h) => h.weight / total));
  // Enough points that the lightest host still gets its share, within the maximum ring size.
  const scale = Math.min(Math.ceil(minWeight * minSize) / minWeight, maxSize);
  const entries: Array<[number, number]> = [];
  hosts.forEach((h, idx) => {
    const count = Math.max(1, Math.floor((scale * h.weight) / total));
    for (let i = 0; i < count; i++) entries.push([hash53(`${h.key}_${i}`), idx]);
  });
  entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return { points: Float64Array.from(entries, (e) => e[0]), owners: Int32Array.from(entries, (e) => e[1]) };
}

function ringLookup(ring: Ring, hash: number): number {
  const { points } = ring;
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]! < hash) lo = mid + 1; else hi = mid;
  }
  return ring.owners[lo === points.length ? 0 : lo]!;
}

export function createRingHash(minSize?: number, maxSize?: number): Balancer {
  let set: readonly HostEntry[] | undefined;
  let ring: Ring | undefined;
  return {
    pick(hosts, ctx, random) {
      if (ctx.hashKey === undefined) return hosts[Math.floor(random() * hosts.length)]!;
      if (hosts !== set || !ring) {
        set = hosts;
        ring = buildRing(hosts, minSize || DEFAULT_MIN_RING, maxSize || DEFAULT_MAX_RING);
      }
      return hosts[ringLookup(ring, hash53(ctx.hashKey))]!;
    },
  };
}

/** The Maglev table: slot → index into `hosts`. Each round a host claims its next free preferred slot, heavier
 * hosts every round and lighter ones proportionally less often. */
export function buildMaglev(hosts: readonly HostEntry[], size = DEFAULT_MAGLEV_TABLE): Int32Array {
  const table = new Int32Array(size).fill(-1);
  const maxWeight = Math.max(...hosts.map((h) => h.weight));
  const build = hosts.map((h) => ({
    offset: hash53(h.key, 0) % size,
    skip: (hash53(h.key, 1) % (size - 1)) + 1,
    weight: h.weight / maxWeight,
    target: 0,
    next: 0,
  }));
  let filled = 0;
  for (let iteration = 1; filled < size; iteration++) {
    for (let i = 0; i < build.length && filled < size; i++) {
      const e = build[i]!;
      if (iteration * e.weight < e.target) continue;
      e.target += 1;
      let slot = (e.offset + e.skip * e.next) % size;
      while (table[slot] !== -1) {
        e.next++;
        slot = (e.offset + e.skip * e.next) % size;
      }
      table[slot] = i;
      e.next++;
      filled++;
    }
  }
  return table;
}

export function createMaglev(tableSize?: number): Balancer {
  const size = tableSize || DEFAULT_MAGLEV_TABLE;
  let set: readonly HostEntry[] | undefined;
  let table: Int32Array | undefined;
  return {
    pick(hosts, ctx, random) {
      if (ctx.hashKey === undefined) return hosts[Math.floor(random() * hosts.length)]!;
      if (hosts !== set || !table) {
        set = hosts;
        table = buildMaglev(hosts, size);
      }
      return hosts[table[hash53(ctx.hashKey) % size]!]!;
    },
  };
}
