// The Programmed answers the loop publishes: computed after each batch (programmed.ts), kept for the status
// reconciler, and only the objects whose answer changed are reported.
import type { ObjectKey, Snapshot } from '../../model/types.ts';
import { programmedStates, type Programmed } from './programmed.ts';
import { configObjects } from './snapshot-index.ts';
import type { WorkloadIndex } from './workload-index.ts';

export class Publication {
  private published = new Map<ObjectKey, Programmed>();
  private signatures = new Map<ObjectKey, string>();

  get(key: ObjectKey): Programmed | undefined {
    return this.published.get(key);
  }

  clear(): void {
    this.published = new Map();
    this.signatures = new Map();
  }

  /** The answers for `snap`'s config objects; returns the keys whose answer changed. */
  update(snap: Snapshot, invalid: ReadonlyMap<ObjectKey, number | undefined>, index: WorkloadIndex): ObjectKey[] {
    const next = programmedStates(configObjects(snap), invalid, index.users, (k) => index.get(k)?.outcome);
    const sigs = new Map<ObjectKey, string>();
    const changed: ObjectKey[] = [];
    for (const [k, st] of next) {
      const sig = JSON.stringify(st);
      sigs.set(k, sig);
      if (this.signatures.get(k) !== sig) changed.push(k);
    }
    this.published = next;
    this.signatures = sigs;
    return changed;
  }
}
