// Host-wide kernel settings the kubelet rewrites at start (it sets vm.overcommit_memory=1, kernel.panic=10,
// kernel.panic_on_oops=1… unless protectKernelDefaults, which makes it refuse to start instead). The cluster
// records them before its first kubelet starts and puts them back when it stops, crashed runs included.
import { readFileSync, writeFileSync } from 'node:fs';

const TUNABLES = [
  'vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes',
];

export type Sysctls = Record<string, string>;

export function readSysctls(): Sysctls {
  const out: Sysctls = {};
  for (const t of TUNABLES) {
    try { out[t] = readFileSync(`/proc/sys/${t}`, 'utf8').trim(); } catch { /* not in this kernel */ }
  }
  return out;
}

export function restoreSysctls(saved: Sysctls): void {
  for (const [t, v] of Object.entries(saved)) {
    try { writeFileSync(`/proc/sys/${t}`, v); } catch { /* read-only here: nothing was changed either */ }
  }
}
