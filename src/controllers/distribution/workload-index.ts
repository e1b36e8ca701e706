// What the distribution remembers of each translated workload: its dependency entry (what its translation read,
// its ProxyConfig.inputs), the hash it was translated to and the outcome of writing it, and for each config object
// the workloads whose config it shaped (for Programmed). In: translations. Out: lookups for the dependency rule,
// the writer and Programmed.
import type { ObjectKey, Snapshot, Workload } from '../../model/types.ts';
import type { ProxyConfig } from '../../translate/types.ts';
import type { DependencyEntry } from './dependencies.ts';
import type { Outcome } from './programmed.ts';
import { visibleHosts } from './snapshot-index.ts';
import type { Reads } from './tracking.ts';

export interface WorkloadState extends DependencyEntry {
  workload: Workload;
  hash: string;
  outcome: Outcome;
}

export class WorkloadIndex {
  readonly entries = new Map<string, WorkloadState>();
  /** Config object → keys of the workloads whose ProxyConfig.inputs name it. */
  readonly users = new Map<ObjectKey, Set<string>>();

  get(key: string): WorkloadState | undefined {
    return this.entries.get(key);
  }

  remember(key: string, w: Workload, pc: ProxyConfig, reads: Reads, snap: Snapshot, hash: string): WorkloadState {
    this.unlink(key);
    const inputs = new Set(pc.inputs);
    for (const k of inputs) {
      let u = this.users.get(k);
      if (!u) this.users.set(k, (u = new Set()));
      u.add(key);
    }
    const state: WorkloadState = {
      workload: w, namespace: w.namespace, labels: w.labels, inputs, reads: compact(reads, snap), hash, outcome: { kind: 'pending' },
    };
    this.entries.set(key, state);
    return state;
  }

  forget(key: string): void {
    this.unlink(key);
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.users.clear();
  }

  private unlink(key: string): void {
    for (const k of this.entries.get(key)?.inputs ?? []) this.users.get(k)?.delete(key);
  }
}

/** Drops hosts already covered by a namespace whose visible services were listed: the index stays small. */
function compact(r: Reads, snap: Snapshot): Reads {
  if (r.visibleIn.size === 0 || r.hosts.size === 0) return r;
  const sets = [...r.visibleIn].map((ns) => visibleHosts(snap, ns));
  for (const h of [...r.hosts]) if (sets.some((s) => s.has(h))) r.hosts.delete(h);
  return r;
}
