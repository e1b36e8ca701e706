// The open-loop load generator wrk cannot be: requests sent at a fixed rate (e.g. 1000/s) over a few keep-alive
// connections whatever the answers do, and the latency of each measured from its send to the end of its body.
// Used to compare p90 latency direct vs through the sidecar pair at the same, moderate load.
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, request } from 'undici';
import type { Latency } from './proxy-wrk.ts';

export interface FixedRateOptions {
  rate: number;
  durationS: number;
  connections: number;
  host?: string;
  /** Seconds sent at the rate first and not measured: connections open, both ends warm up. Default 0.5. */
  warmupS?: number;
}

export interface FixedRateResult {
  sent: number;
  errors: number;
  achieved_rps: number;
  latency_ms: Latency;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export async function fixedRate(url: string, o: FixedRateOptions): Promise<FixedRateResult> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: o.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies: number[] = [];
  let errors = 0;
  const inflight = new Set<Promise<void>>();
  const warmup = o.warmupS ?? 0.5;
  const total = Math.round(o.rate * (warmup + o.durationS));
  const measureFrom = Math.round(o.rate * warmup);
  const headers = o.host ? { host: o.host } : {};
  const fire = (measured: boolean) => {
    const t0 = performance.now();
    const p = pool.request({ path: u.pathname, method: 'GET', headers })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode !== 200) errors++;
        else if (measured) latencies.push(performance.now() - t0);
      })
      .catch(() => { errors++; })
      .finally(() => { inflight.delete(p); });
    inflight.add(p);
  };
  try {
    const start = performance.now();
    let sent = 0;
    // Each tick sends what is due by now, so a late timer catches up instead of lowering the rate.
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * o.rate) + 1);
      while (sent < due) { fire(sent >= measureFrom); sent++; }
      await sleep(1);
    }
    const elapsed = (performance.now() - start) / 1000 - warmup;
    await Promise.race([Promise.all(inflight), sleep(5000)]);
    latencies.sort((a, b) => a - b);
    const ms = (x: number) => Math.round(x * 1000) / 1000;
    return {
      sent: sent - measureFrom,
      errors: errors + inflight.size,
      achieved_rps: Math.round((sent - measureFrom) / elapsed),
      latency_ms: { p50: ms(percentile(latencies, 50)), p90: ms(percentile(latencies, 90)), p99: ms(percentile(latencies, 99)) },
    };
  } finally {
    await pool.destroy();
  }
}

/**
 * One request before measuring: the variant must answer 200 with the app's 1024-byte body, or it is not run.
 * A few tries over about two seconds, so that a listener still settling is not mistaken for a broken variant.
 */
export async function probe(url: string, host: string | undefined, bodyBytes: number): Promise<void> {
  let last = '';
  for (let i = 0; i < 10; i++) {
    if (i > 0) await sleep(200);
    try {
      const res = await request(url, { headers: host ? { host } : {}, signal: AbortSignal.timeout(5000) });
      const body = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode === 200 && body.length === bodyBytes) return;
      last = `answered ${res.statusCode} with ${body.length} bytes: ${body.toString().slice(0, 200)}`;
    } catch (err) {
      last = (err as Error).message;
    }
  }
  throw new Error(`${url} (Host ${host ?? '-'}) ${last}`);
}
