// wrk as the closed-loop load generator: a fixed number of keep-alive connections sending as fast as answers come.
// A Lua done() hook prints the run's summary and exact latency percentiles as one JSON line (`WRK_JSON {...}`),
// parsed here into requests per second and p50/p90/p99 in milliseconds.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchTools } from './proxy-tools.ts';

export const WRK_LUA = `-- prints the summary and latency percentiles as JSON once the run is over
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nWRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
}

export interface WrkResult {
  rps: number;
  requests: number;
  /** Non-2xx/3xx answers plus socket errors and timeouts. */
  errors: number;
  latency_ms: Latency;
  duration_s: number;
}

export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (!line) throw new Error(`wrk printed no summary: ${stdout.slice(-500)}`);
  const j = JSON.parse(line.slice('WRK_JSON '.length)) as {
    requests: number; duration_us: number; errors: Record<string, number>; latency_us: Record<keyof Latency, number>;
  };
  const ms = (us: number) => Math.round(us) / 1000;
  const duration = j.duration_us / 1e6;
  return {
    rps: duration > 0 ? Math.round(j.requests / duration) : 0,
    requests: j.requests,
    errors: Object.values(j.errors).reduce((a, b) => a + b, 0),
    latency_ms: { p50: ms(j.latency_us.p50), p90: ms(j.latency_us.p90), p99: ms(j.latency_us.p99) },
    duration_s: Math.round(duration * 1000) / 1000,
  };
}

export interface WrkOptions {
  connections: number;
  threads: number;
  durationS: number;
  host?: string;
  /** More request headers (e.g. an Authorization token). */
  headers?: Record<string, string>;
}

/** Writes the Lua script into `dir` once; returns its path. */
export function wrkScript(dir: string): string {
  const path = join(dir, 'percentiles.lua');
  writeFileSync(path, WRK_LUA);
  return path;
}

export async function runWrk(tools: BenchTools, script: string, url: string, o: WrkOptions): Promise<WrkResult> {
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.durationS}s`, '--timeout', '5s', '-s', script];
  if (o.host) args.push('-H', `Host: ${o.host}`);
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(url);
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(tools.wrk, args, { env: tools.env, timeout: (o.durationS + 15) * 1000, killSignal: 'SIGKILL' }, (err, out, errOut) => {
      if (err) reject(new Error(`wrk ${url}: ${err.message} ${errOut}`));
      else resolve(out);
    });
  });
  return parseWrkOutput(stdout);
}
