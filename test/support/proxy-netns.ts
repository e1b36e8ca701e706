// Test fixture: a throwaway network namespace with iptables NAT rules, for tests that need real SO_ORIGINAL_DST.
// Finds iptables (system, or a copy unpacked from Debian packages into ~/.cache/weft/tools with `apt-get
// download` + `dpkg -x`, installing nothing), and tries the legacy and the nft backends. `prepare()` answers
// either a ready namespace or the exact reason the facility does not exist here.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const TOOLS = join(process.env.WEFT_CACHE ?? join(homedir(), '.cache', 'weft'), 'tools', 'iptables');
const PACKAGES = ['iptables', 'libip4tc2', 'libip6tc2', 'libmnl0', 'libnetfilter-conntrack3', 'libnfnetlink0', 'libnftnl11', 'libxtables12'];

export interface Netns {
  name: string;
  /** Runs a command inside the namespace; throws with its stderr on failure. */
  exec(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string;
  /** iptables (or ip6tables) inside the namespace, with whichever backend worked. */
  iptables(args: string[], v6?: boolean): string;
  backend: string;
  remove(): void;
}

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env, timeout: 60_000 });
}

function errText(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  return (err.stderr || err.message || String(e)).trim().split('\n').slice(-2).join(' ');
}

/** [multi-binary path, env] for each iptables backend available. */
function iptablesBinaries(): Array<{ bin: string; env: NodeJS.ProcessEnv }> {
  const out: Array<{ bin: string; env: NodeJS.ProcessEnv }> = [];
  for (const dir of ['/usr/sbin', '/sbin']) {
    for (const b of ['xtables-legacy-multi', 'xtables-nft-multi']) if (existsSync(join(dir, b))) out.push({ bin: join(dir, b), env: process.env });
  }
  if (out.length > 0) return out;
  if (!existsSync(join(TOOLS, 'usr/sbin/xtables-nft-multi'))) {
    const debs = join(TOOLS, 'debs');
    mkdirSync(debs, { recursive: true });
    const download = () => execFileSync('apt-get', ['download', ...PACKAGES], { cwd: debs, stdio: 'ignore', timeout: 120_000 });
    try {
      download();
    } catch {
      // A fresh machine may have no package index yet.
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 300_000 });
      download();
    }
    for (const f of readdirSync(debs)) if (f.endsWith('.deb')) run('dpkg', ['-x', join(debs, f), TOOLS]);
  }
  const lib = join(TOOLS, 'usr/lib/x86_64-linux-gnu');
  const env = { ...process.env, LD_LIBRARY_PATH: lib, XTABLES_LIBDIR: join(lib, 'xtables') };
  for (const b of ['xtables-legacy-multi', 'xtables-nft-multi']) out.push({ bin: join(TOOLS, 'usr/sbin', b), env });
  return out;
}

/**
 * A fresh network namespace with iptables ready, or why there cannot be one here (the test then skips, saying why).
 * With WEFT_REQUIRE_NETNS=1 (CI, on machines known to have the facility) a missing facility fails instead, so
 * these tests can never go quietly missing.
 */
export function prepareNetns(name: string): Netns | { skip: string } {
  const r = tryPrepareNetns(name);
  if (!('skip' in r)) return r;
  if (process.env.WEFT_REQUIRE_NETNS === '1') throw new Error(`network namespace needed (WEFT_REQUIRE_NETNS=1): ${r.skip}`);
  console.log(`      skipped: ${r.skip}`);
  return r;
}

function tryPrepareNetns(name: string): Netns | { skip: string } {
  if (process.platform !== 'linux') return { skip: 'network namespaces and SO_ORIGINAL_DST exist on Linux only' };
  if (process.getuid?.() !== 0) return { skip: 'creating a network namespace needs root' };
  try {
    run('ip', ['netns', 'add', name]);
  } catch (e) {
    return { skip: `ip netns add failed: ${errText(e)}` };
  }
  const exec = (cmd: string, args: string[], env?: NodeJS.ProcessEnv) => run('ip', ['netns', 'exec', name, cmd, ...args], env);
  const remove = () => {
    try { run('ip', ['netns', 'del', name]); } catch { /* already gone */ }
  };
  try {
    // Prefixes on lo give the fake destinations a route, so connect() reaches the nat OUTPUT hook (a dummy
    // interface would do too, but not every kernel has that driver).
    exec('ip', ['link', 'set', 'lo', 'up']);
    exec('ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'lo']);
    exec('ip', ['addr', 'add', '2001:db8::1/64', 'dev', 'lo', 'nodad']);
  } catch (e) {
    remove();
    return { skip: `setting up the namespace's interfaces failed: ${errText(e)}` };
  }
  let binaries: Array<{ bin: string; env: NodeJS.ProcessEnv }>;
  try {
    binaries = iptablesBinaries();
  } catch (e) {
    remove();
    return { skip: `iptables is not installed and could not be fetched with apt-get download: ${errText(e)}` };
  }
  const reasons: string[] = [];
  for (const { bin, env } of binaries) {
    try {
      exec(bin, ['iptables', '-t', 'nat', '-L', 'OUTPUT', '-n'], env);
      const backend = bin.includes('legacy') ? 'iptables-legacy' : 'iptables-nft';
      return {
        name, exec, remove, backend,
        iptables: (args, v6 = false) => exec(bin, [v6 ? 'ip6tables' : 'iptables', ...args], env),
      };
    } catch (e) {
      reasons.push(`${bin}: ${errText(e)}`);
    }
  }
  remove();
  return { skip: `no iptables backend can use the nat table in this kernel (${reasons.join('; ')})` };
}
