// Test fixture: a throwaway network namespace with iptables NAT rules, for tests that need real SO_ORIGINAL_DST.
// Finds iptables and picks the legacy or the nft backend with hack/local-cluster/node/host-tools.ts.
// `prepareNetns()` answers either a ready namespace or the exact reason the facility does not exist here.
import { execFileSync } from 'node:child_process';
import { errText, iptablesBinaries, pickIptablesBackend, type IptablesBinary } from '../../hack/local-cluster/node/host-tools.ts';

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

/** Skips the test saying why, or fails with WEFT_REQUIRE_NETNS=1 (see prepareNetns). */
export function skipOrRequireNetns(reason: string): { skip: string } {
  if (process.env.WEFT_REQUIRE_NETNS === '1') throw new Error(`network namespace needed (WEFT_REQUIRE_NETNS=1): ${reason}`);
  console.log(`      skipped: ${reason}`);
  return { skip: reason };
}

/**
 * A fresh network namespace with iptables ready, or why there cannot be one here (the test then skips, saying why).
 * With WEFT_REQUIRE_NETNS=1 (CI, on machines known to have the facility) a missing facility fails instead, so
 * these tests can never go quietly missing.
 */
export function prepareNetns(name: string): Netns | { skip: string } {
  const r = tryPrepareNetns(name);
  return 'skip' in r ? skipOrRequireNetns(r.skip) : r;
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
  let binaries: IptablesBinary[];
  try {
    binaries = iptablesBinaries();
  } catch (e) {
    remove();
    return { skip: `iptables is not installed and could not be fetched with apt-get download: ${errText(e)}` };
  }
  const picked = pickIptablesBackend(name, binaries);
  if ('reasons' in picked) {
    remove();
    return { skip: `no iptables backend can use the nat table in this kernel (${picked.reasons.join('; ')})` };
  }
  const { bin, env, backend } = picked;
  return {
    name, exec, remove, backend,
    iptables: (args, v6 = false) => exec(bin, [v6 ? 'ip6tables' : 'iptables', ...args], env),
  };
}
