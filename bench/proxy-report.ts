// The proxy bench's numbers → its report: medians over the interleaved rounds per variant, ratios, the fixed-rate
// latency comparison, memory, CPU per 1000 requests/s, the cost of authorization (pair-authz against pair), and
// each goal with its value and whether it is met.
// Variants that could not run give null values and their error, never a failed section.
import type { FixedRateResult } from './proxy-load.ts';
import type { Latency, WrkResult } from './proxy-wrk.ts';

export interface Target {
  name: string;
  url: string;
  /** Host header (the sidecar routes by it). */
  host?: string;
  /** The sidecars this variant goes through, whose CPU time is measured. */
  sidecarPids?: number[];
  /** The server-side sidecar of a pair, measured on its own (where authorization runs). */
  serverPid?: number;
  /** More request headers (pair-authz: the token). */
  headers?: Record<string, string>;
}

export function median(xs: readonly number[]): number | null {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const r3 = (x: number | null): number | null => (x === null ? null : Math.round(x * 1000) / 1000);

function latency(results: ReadonlyArray<{ latency_ms: Latency }> | undefined): Latency | null {
  if (!results || results.length === 0) return null;
  return {
    p50: r3(median(results.map((x) => x.latency_ms.p50)))!,
    p90: r3(median(results.map((x) => x.latency_ms.p90)))!,
    p99: r3(median(results.map((x) => x.latency_ms.p99)))!,
  };
}

const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : r3(a / b));

type Goal = { value: number | null; goal: string; met: boolean };
const atLeast = (value: number | null, goal: number): Goal => ({ value, goal: `>= ${goal}`, met: value !== null && value >= goal });
const atMost = (value: number | null, goal: number): Goal => ({ value, goal: `<= ${goal}`, met: value !== null && value <= goal });

export interface BenchNumbers {
  rounds: Record<string, ReadonlyArray<WrkResult & { vcpu?: number; serverCpuS?: number }>>;
  fixed: Record<string, readonly FixedRateResult[]>;
  rss: { ready_mb: number; after_traffic_mb: number } | undefined;
  pairMtls: boolean | undefined;
  errors: Record<string, string>;
  fixedRate: number;
}

export function summarize(n: BenchNumbers): Record<string, unknown> {
  const rps = (name: string) => { const m = median((n.rounds[name] ?? []).map((x) => x.rps)); return m === null ? null : Math.round(m); };
  const direct = rps('direct');
  const nginx = rps('nginx');
  const weft = rps('weft');
  const pair = rps('pair');
  // Per round: sidecar CPU seconds per second over thousands of requests per second; then the median.
  const per1k = (name: string) => r3(median((n.rounds[name] ?? []).map((x) => (x.vcpu !== undefined && x.rps > 0 ? x.vcpu / (x.rps / 1000) : NaN))));
  const vcpuPer1k = per1k('weft');
  const fixedP90 = (name: string) => median((n.fixed[name] ?? []).map((x) => x.latency_ms.p90));
  const fd = fixedP90('direct');
  const fp = fixedP90('pair');
  const added = fd === null || fp === null ? null : r3(fp - fd);
  const weftVsNginx = ratio(weft, nginx);
  const pairVsDirect = ratio(pair, direct);
  const rss = n.rss ? Math.max(n.rss.ready_mb, n.rss.after_traffic_mb) : null;
  // Authorization: pair-authz against pair in the same rounds. Throughput ratio of the medians; overhead as the
  // server sidecar's CPU microseconds per request (medians per round), with and without the policies.
  const pairAuthz = rps('pair-authz');
  const authzRatio = ratio(pairAuthz, pair);
  const serverUsPerRequest = (name: string) => median((n.rounds[name] ?? []).map((x) => (x.serverCpuS !== undefined && x.requests > 0 ? (x.serverCpuS / x.requests) * 1e6 : NaN)));
  const usAuthz = serverUsPerRequest('pair-authz');
  const usPair = serverUsPerRequest('pair');
  const authzOverhead = usAuthz === null || usPair === null ? null : Math.round((usAuthz - usPair) * 10) / 10;
  const p50 = (name: string) => median((n.rounds[name] ?? []).map((x) => x.latency_ms.p50));
  const pa50 = p50('pair-authz');
  const pp50 = p50('pair');
  const errorCount = Object.fromEntries(Object.entries(n.rounds).map(([k, v]) => [k, v.reduce((a, x) => a + x.errors, 0)]));
  return {
    direct_rps: direct,
    nginx_rps: nginx,
    weft_rps: weft,
    weft_vs_nginx: weftVsNginx,
    pair_rps: pair,
    pair_mtls_vs_direct: pairVsDirect,
    direct_latency_ms: latency(n.rounds.direct),
    nginx_latency_ms: latency(n.rounds.nginx),
    weft_latency_ms: latency(n.rounds.weft),
    pair_latency_ms: latency(n.rounds.pair),
    pair_mtls: n.pairMtls ?? null,
    fixed_rate: {
      rps: n.fixedRate,
      direct_latency_ms: latency(n.fixed.direct),
      pair_latency_ms: latency(n.fixed.pair),
      achieved_rps: Object.fromEntries(Object.entries(n.fixed).map(([k, v]) => [k, median(v.map((x) => x.achieved_rps))])),
      errors: Object.fromEntries(Object.entries(n.fixed).map(([k, v]) => [k, v.reduce((a, x) => a + x.errors, 0)])),
    },
    pair_mtls_added_p90_ms: added,
    sidecar_rss_mb: rss,
    sidecar_rss: n.rss ?? null,
    vcpu_per_1k_rps: vcpuPer1k,
    pair_vcpu_per_1k_rps: per1k('pair'),
    pair_authz_rps: pairAuthz,
    pair_authz_latency_ms: latency(n.rounds['pair-authz']),
    authz_throughput_ratio: authzRatio,
    authz_overhead_us: authzOverhead,
    authz_server_cpu_us_per_request: { pair: usPair === null ? null : Math.round(usPair * 10) / 10, pair_authz: usAuthz === null ? null : Math.round(usAuthz * 10) / 10 },
    authz_added_p50_us: pa50 === null || pp50 === null ? null : Math.round((pa50 - pp50) * 1000),
    request_errors: errorCount,
    round_rps: Object.fromEntries(Object.entries(n.rounds).map(([k, v]) => [k, v.map((x) => x.rps)])),
    goals: {
      weft_vs_nginx: atLeast(weftVsNginx, 0.6),
      pair_mtls_added_p90_ms: atMost(added, 0.5),
      pair_mtls_vs_direct: atLeast(pairVsDirect, 0.5),
      sidecar_rss_mb: atMost(rss, 50),
      vcpu_per_1k_rps: atMost(vcpuPer1k, 0.25),
      authz_throughput_ratio: atLeast(authzRatio, 0.9),
    },
    ...(Object.keys(n.errors).length > 0 ? { errors: n.errors } : {}),
  };
}
