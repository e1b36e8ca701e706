// Host tools the local node and the netns tests need but the machine may lack: iptables. Uses the system's
// multi-binaries, or a copy unpacked from Debian packages into <cache>/tools/iptables with `apt-get download` +
// `dpkg -x` (installing nothing). Which backend (legacy or nft) works is decided by trying it in a throwaway
// network namespace, since a kernel may lack either one. hostToolsBin() turns the choice into a directory of
// wrapper scripts, so a container's own `sh -c 'iptables ...'` finds them on PATH.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const CACHE = join(process.env.WEFT_CACHE ?? join(homedir(), '.cache', 'weft'), 'tools');
const TOOLS = join(CACHE, 'iptables');
const PACKAGES = ['iptables', 'libip4tc2', 'libip6tc2', 'libmnl0', 'libnetfilter-conntrack3', 'libnfnetlink0', 'libnftnl11', 'libxtables12'];
const COMMANDS = ['iptables', 'ip6tables', 'iptables-save', 'iptables-restore', 'ip6tables-save', 'ip6tables-restore'];

/** A multi-binary (xtables-legacy-multi or xtables-nft-multi) and the environment it needs. */
export interface IptablesBinary {
  bin: string;
  env: NodeJS.ProcessEnv;
  /** Set when the binary is the unpacked copy, whose libraries are not where the loader looks. */
  libDir?: string;
}

export interface IptablesBackend extends IptablesBinary {
  backend: 'iptables-legacy' | 'iptables-nft';
}

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env, timeout: 60_000 });
}

export function errText(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  return (err.stderr || err.message || String(e)).trim().split('\n').slice(-2).join(' ');
}

/** Every iptables multi-binary available, fetching the Debian packages when the system has none (throws if that fails). */
export function iptablesBinaries(): IptablesBinary[] {
  const out: IptablesBinary[] = [];
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
  const libDir = join(TOOLS, 'usr/lib/x86_64-linux-gnu');
  const env = { ...process.env, LD_LIBRARY_PATH: libDir, XTABLES_LIBDIR: join(libDir, 'xtables') };
  for (const b of ['xtables-legacy-multi', 'xtables-nft-multi']) out.push({ bin: join(TOOLS, 'usr/sbin', b), env, libDir });
  return out;
}

/**
 * The first backend that can list the nat table inside the namespace `netns`, or why none can. Throws only when
 * iptables cannot be found or fetched at all.
 */
export function pickIptablesBackend(netns: string, binaries = iptablesBinaries()): IptablesBackend | { reasons: string[] } {
  const reasons: string[] = [];
  for (const b of binaries) {
    try {
      run('ip', ['netns', 'exec', netns, b.bin, 'iptables', '-t', 'nat', '-L', 'OUTPUT', '-n'], b.env);
      return { ...b, backend: b.bin.includes('legacy') ? 'iptables-legacy' : 'iptables-nft' };
    } catch (e) {
      reasons.push(`${b.bin}: ${errText(e)}`);
    }
  }
  return { reasons };
}

const shQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

let binDir: string | undefined;

/**
 * A directory of executable `iptables`, `ip6tables` and their -save/-restore wrappers running the backend that
 * works here. The choice is probed once in a throwaway namespace and cached on disk (backend.json beside the
 * wrappers); a cached choice whose binary has gone is probed again.
 */
export function hostToolsBin(): string {
  if (binDir) return binDir;
  const dir = join(CACHE, 'bin');
  const marker = join(dir, 'backend.json');
  try {
    const cached = JSON.parse(readFileSync(marker, 'utf8')) as { bin: string };
    if (existsSync(cached.bin) && COMMANDS.every((c) => existsSync(join(dir, c)))) return (binDir = dir);
  } catch { /* not cached yet */ }
  const probe = `weft-tools-${process.pid}`;
  run('ip', ['netns', 'add', probe]);
  let picked: ReturnType<typeof pickIptablesBackend>;
  try {
    picked = pickIptablesBackend(probe);
  } finally {
    try { run('ip', ['netns', 'del', probe]); } catch { /* already gone */ }
  }
  if ('reasons' in picked) throw new Error(`no iptables backend can use the nat table in this kernel (${picked.reasons.join('; ')})`);
  mkdirSync(dir, { recursive: true });
  const envs = picked.libDir
    ? `export LD_LIBRARY_PATH=${shQuote(picked.libDir)} XTABLES_LIBDIR=${shQuote(join(picked.libDir, 'xtables'))}\n`
    : '';
  // Written beside and renamed into place, so a concurrent run never executes half a script.
  const put = (name: string, text: string, mode: number) => {
    const tmp = join(dir, `.${name}.${process.pid}`);
    writeFileSync(tmp, text);
    chmodSync(tmp, mode);
    renameSync(tmp, join(dir, name));
  };
  for (const c of COMMANDS) put(c, `#!/bin/sh\n# ${picked.backend}\n${envs}exec ${shQuote(picked.bin)} ${c} "$@"\n`, 0o755);
  put('backend.json', `${JSON.stringify({ backend: picked.backend, bin: picked.bin, libDir: picked.libDir })}\n`, 0o644);
  return (binDir = dir);
}
