// Removing everything a local cluster leaves on the host, whether it stopped cleanly or crashed: processes in
// the nodes' namespaces and cgroups, pod network namespaces, mounts under the cluster directory, node cgroups,
// namespaces and host links. Everything is found by the weftk prefix, so a crashed run's leftovers go too.
import { existsSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PREFIX, deleteNetns, listNetns, netnsPids, removeHostLinks, run } from './host-network.ts';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The cgroup v1 hierarchies mounted here (cpu, memory, pids…), as directories. */
function hierarchies(): string[] {
  try {
    return readdirSync(CGROUP_ROOT).map((d) => join(CGROUP_ROOT, d)).filter((d) => existsSync(join(d, 'cgroup.procs')));
  } catch {
    return [];
  }
}

/** Per-node cgroup parents (the kubelet's cgroupRoot), one directory in each hierarchy. */
export const nodeCgroup = (i: number) => `/${PREFIX}-n${i}`;

function walk(dir: string, out: string[] = []): string[] {
  out.push(dir);
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name), out);
  return out;
}

/** Pids in any cgroup below the node cgroups: every container of every pod of every node. */
function cgroupPids(): number[] {
  const pids = new Set<number>();
  for (const h of hierarchies()) {
    for (const top of readdirSync(h).filter((d) => d.startsWith(`${PREFIX}-n`))) {
      for (const d of walk(join(h, top))) {
        try {
          for (const p of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
        } catch { /* removed meanwhile */ }
      }
    }
  }
  return [...pids];
}

/**
 * Processes whose command line names the cluster's own subdirectories under one of `dirs`: a crashed run's
 * control plane and scheduler (only those paths, so a shared parent directory catches nothing else).
 */
function pidsUsing(dirs: string[]): number[] {
  if (dirs.length === 0) return [];
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (dirs.some((d) => cmd.includes(`${d}/control-plane/`) || cmd.includes(`${d}/weft-node-`))) out.push(Number(e));
    } catch { /* exited meanwhile */ }
  }
  return out;
}

function kill(pids: number[]): void {
  for (const p of pids) {
    if (p === process.pid) continue;
    try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ }
  }
}

function removeCgroups(): void {
  for (const h of hierarchies()) {
    for (const top of readdirSync(h).filter((d) => d.startsWith(`${PREFIX}-n`))) {
      for (const d of walk(join(h, top)).reverse()) {
        try { rmdirSync(d); } catch { /* busy: a process is still exiting */ }
      }
    }
  }
}

/** Mount points under `dir` (kubelet volumes, container root filesystems, shm), deepest first. */
function mountsUnder(dir: string): string[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m)
    .map(unescape)
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

export function unmountUnder(dir: string): void {
  for (const m of mountsUnder(dir)) {
    try { run('umount', ['-l', m]); } catch { /* raced with its owner's unmount */ }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Kills and removes every trace of local-cluster nodes. `dirs`: cluster directories whose mounts must go (a
 * crashed run's directory comes from its lock file).
 */
export async function removeNodes(dirs: string[]): Promise<void> {
  const nodeNs = listNetns().filter((n) => n.startsWith(`${PREFIX}-n`));
  for (let round = 0; round < 20; round++) {
    const pids = [...cgroupPids(), ...nodeNs.flatMap(netnsPids), ...pidsUsing(dirs)];
    if (pids.length === 0) break;
    kill(pids);
    await sleep(100);
  }
  // Pod namespaces (cni-…) that nothing runs in any more: their sandboxes are gone with the nodes.
  for (const ns of listNetns().filter((n) => n.startsWith('cni-'))) if (netnsPids(ns).length === 0) deleteNetns(ns);
  for (const d of dirs) unmountUnder(d);
  for (const ns of nodeNs) deleteNetns(ns);
  for (let round = 0; round < 10; round++) {
    removeCgroups();
    if (!hierarchies().some((h) => readdirSync(h).some((d) => d.startsWith(`${PREFIX}-n`)))) break;
    await sleep(200);
  }
  removeHostLinks();
}

export function createNodeCgroups(i: number): void {
  for (const h of hierarchies()) {
    const d = join(h, nodeCgroup(i));
    run('mkdir', ['-p', d]);
    // A new cpuset cgroup starts with no CPUs or memory nodes, and nothing can join it until it has some.
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      if (existsSync(join(h, f))) writeFileSync(join(d, f), readFileSync(join(h, f), 'utf8'));
    }
  }
}
