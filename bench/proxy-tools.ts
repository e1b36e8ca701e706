// Where the proxy bench's external tools live: hack/bench-tools.sh fetches wrk and nginx (Debian packages unpacked
// into ~/.cache/weft/bench-tools, nothing installed) and prints the tree; this module runs it once and gives the
// binaries' paths, the environment they need (LD_LIBRARY_PATH to the unpacked libraries) and their versions.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface BenchTools {
  wrk: string;
  nginx: string;
  env: NodeJS.ProcessEnv;
  wrkVersion: string;
  nginxVersion: string;
  /** How long fetching took (0 when the tools were already there). */
  fetchMs: number;
}

const SCRIPT = new URL('../hack/bench-tools.sh', import.meta.url).pathname;

export function benchTools(): BenchTools {
  const t = performance.now();
  const dest = execFileSync('sh', [SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 }).trim();
  const fetchMs = Math.round(performance.now() - t);
  const root = join(dest, 'root');
  const libs = ['usr/lib/x86_64-linux-gnu', 'usr/lib/aarch64-linux-gnu', 'usr/lib'].map((d) => join(root, d)).filter(existsSync);
  const env = { ...process.env, LD_LIBRARY_PATH: [...libs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
  const wrk = join(root, 'usr/bin/wrk');
  const nginx = join(root, 'usr/sbin/nginx');
  // `wrk -v` prints its version on stdout and exits 1; `nginx -v` prints it on stderr.
  const out = (cmd: string) => {
    const r = spawnSync(cmd, ['-v'], { env, encoding: 'utf8', timeout: 10_000 });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`;
  };
  const wrkVersion = /wrk (\S+)/.exec(out(wrk))?.[1] ?? 'unknown';
  const nginxVersion = /nginx\/(\S+)/.exec(out(nginx))?.[1] ?? 'unknown';
  return { wrk, nginx, env, wrkVersion, nginxVersion, fetchMs };
}

