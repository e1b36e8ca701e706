// Load balancers over an eligible host set (pure: randomness is passed in): smooth weighted round robin, random,
// least request (power of N choices), peak EWMA (weft's latency-aware balancer), and the consistent-hash ones from
// hash-lb.ts. `pickAvoiding` honours the retry's previous hosts when another host is eligible.
import type { LbContext } from '../runtime.ts';
import { createMaglev, createRingHash } from './hash-lb.ts';
import type { Balancer, HostEntry, LbOptions } from './types.ts';

function uniform(hosts: readonly HostEntry[]): boolean {
  const w = hosts[0]!.weight;
  for (let i = 1; i < hosts.length; i++) if (hosts[i]!.weight !== w) return false;
  return true;
}

/** Equal weights rotate an index; unequal weights use smooth weighted round robin (no bursts to heavy hosts). */
export function createRoundRobin(): Balancer {
  let next = -1;
  let set: readonly HostEntry[] | undefined;
  let equal = true;
  return {
    weightsChanged() { set = undefined; },
    pick(hosts, _ctx, random) {
      if (hosts !== set) {
        set = hosts;
        equal = uniform(hosts);
        // A random start so that many proxies do not all hit the first host together.
        if (next < 0) next = Math.floor(random() * hosts.length);
        for (const h of hosts) h.rrCurrent = 0;
      }
      if (equal) {
        next = (next + 1) % hosts.length;
        return hosts[next]!;
      }
      let total = 0;
      let best = hosts[0]!;
      for (const h of hosts) {
        h.rrCurrent += h.weight;
        total += h.weight;
        if (h.rrCurrent > best.rrCurrent) best = h;
      }
      best.rrCurrent -= total;
      return best;
    },
  };
}

/** Weighted random with a cumulative table built once per host set. */
export function createRandom(): Balancer {
  let set: readonly HostEntry[] | undefined;
  let cumulative: Float64Array = new Float64Array(0);
  let equal = true;
  return {
    pick(hosts, _ctx, random) {
      if (hosts !== set) {
        set = hosts;
        equal = uniform(hosts);
        cumulative = new Float64Array(hosts.length);
        let sum = 0;
        hosts.forEach((h, i) => { sum += h.weight; cumulative[i] = sum; });
      }
      if (equal) return hosts[Math.floor(random() * hosts.length)]!;
      const x = random() * cumulative[cumulative.length - 1]!;
      let lo = 0;
      let hi = cumulative.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cumulative[mid]! > x) hi = mid; else lo = mid + 1;
      }
      return hosts[lo]!;
    },
  };
}

/** The best of `choices` random hosts by `cost` (lower wins), drawn with replacement as Envoy's least request does. */
function bestOfRandom(hosts: readonly HostEntry[], choices: number, random: () => number, cost: (h: HostEntry) => number): HostEntry {
  let best = hosts[Math.floor(random() * hosts.length)]!;
  if (hosts.length === 1 || choices < 2) return best;
  let bestCost = cost(best);
  for (let i = 1; i < choices; i++) {
    const h = hosts[Math.floor(random() * hosts.length)]!;
    const c = cost(h);
    if (c < bestCost) { best = h; bestCost = c; }
  }
  return best;
}

/** Fewest requests in flight among N random hosts (weighted: in-flight per unit of weight). */
export function createLeastRequest(choiceCount = 2): Balancer {
  const cost = (h: HostEntry) => (h.active + 1) / h.weight;
  return { pick: (hosts, _ctx, random) => bestOfRandom(hosts, Math.max(2, choiceCount), random, cost) };
}

/**
 * Peak EWMA: each host's latency estimate jumps to any slower response at once and decays towards faster ones
 * with time constant `decayMs`; while a host gets no traffic its estimate decays towards zero, so a host that
 * was slow is tried again after a while. The cost of a host is that estimate times (requests in flight + 1), and
 * the cheaper of N random hosts (the first two distinct) wins. Hosts without a measurement cost nothing, so new
 * hosts get probed.
 */
export function createPeakEwma(choiceCount = 2, decayMs = 10_000, now: () => number = () => performance.now()): Balancer {
  let t = 0;
  const cost = (h: HostEntry) => h.ewmaMs * Math.exp(-Math.max(0, t - h.ewmaAt) / decayMs) * (h.active + 1);
  return {
    pick(hosts, _ctx, random) {
      // The first two contenders are distinct hosts, so that with two hosts the faster always wins the draw.
      if (hosts.length === 1) return hosts[0]!;
      t = now();
      const i = Math.floor(random() * hosts.length);
      let j = Math.floor(random() * (hosts.length - 1));
      if (j >= i) j++;
      const a = hosts[i]!;
      const b = hosts[j]!;
      const first = cost(b) < cost(a) ? b : a;
      if (choiceCount <= 2) return first;
      const rest = bestOfRandom(hosts, choiceCount - 2, random, cost);
      return cost(rest) < cost(first) ? rest : first;
    },
    observe(h, latencyMs, at) {
      if (h.ewmaAt === 0) {
        h.ewmaMs = latencyMs;
      } else {
        const w = Math.exp(-Math.max(0, at - h.ewmaAt) / decayMs);
        const decayed = h.ewmaMs * w;
        h.ewmaMs = latencyMs > decayed ? latencyMs : decayed + latencyMs * (1 - w);
      }
      h.ewmaAt = at || 1e-9;
    },
  };
}

/** `now` feeds the latency-aware balancer's decay (the runtime's clock). */
export function createBalancer(o: LbOptions, now?: () => number): Balancer {
  switch (o.kind) {
    case 'ROUND_ROBIN': return createRoundRobin();
    case 'RANDOM': return createRandom();
    case 'LEAST_REQUEST': return createLeastRequest(o.choiceCount);
    case 'PEAK_EWMA': return createPeakEwma(o.choiceCount, o.decayMs, now);
    case 'RING_HASH': return createRingHash(o.minimumRingSize, o.maximumRingSize);
    case 'MAGLEV': return createMaglev(o.tableSize);
  }
}

/** The balancer's pick, unless the request already tried that host and another is eligible: then the next
 * picks (a few) and finally a random host the request has not tried. */
export function pickAvoiding(b: Balancer, hosts: readonly HostEntry[], ctx: LbContext, random: () => number): HostEntry {
  const first = b.pick(hosts, ctx, random);
  const tried = ctx.attempted;
  if (!tried || tried.size === 0 || !tried.has(first.key) || hosts.length === 1) return first;
  if (ctx.hashKey === undefined) {
    for (let i = 0; i < 3; i++) {
      const h = b.pick(hosts, ctx, random);
      if (!tried.has(h.key)) return h;
    }
  }
  const fresh = hosts.filter((h) => !tried.has(h.key));
  return fresh.length ? fresh[Math.floor(random() * fresh.length)]! : first;
}
