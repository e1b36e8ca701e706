// The Programmed answers the loop publishes: computed after each batch (programmed.ts), kept for the status
// reconciler, and only the objects whose answer changed are reported. With them, the Gateways' IST0145 conflicts
// (src/translate/gateway-conflicts.ts), which need the whole snapshot and so are found here rather than by the
// per-object status reconciler.
import type { ObjectKey, Snapshot } from '../../model/types.ts';
import { gatewayConflicts, type GatewayConflict } from '../../translate/gateway-conflicts.ts';
import { programmedStates, type Programmed } from './programmed.ts';
import { configObjects } from './snapshot-index.ts';
import type { WorkloadIndex } from './workload-index.ts';

export class Publication {
  private published = new Map<ObjectKey, Programmed>();
  private signatures = new Map<ObjectKey, string>();
  private conflicts = new Map<ObjectKey, GatewayConflict[]>();

  get(key: ObjectKey): Programmed | undefined {
    return this.published.get(key);
  }

  /** IST0145 findings of a Gateway (empty when it has none); undefined before the first batch saw it. */
  conflictsOf(key: ObjectKey): GatewayConflict[] | undefined {
    if (!this.published.has(key)) return undefined;
    return this.conflicts.get(key) ?? [];
  }

  clear(): void {
    this.published = new Map();
    this.signatures = new Map();
    this.conflicts = new Map();
  }

  /** The answers for `snap`'s config objects; returns the keys whose answer changed. */
  update(snap: Snapshot, invalid: ReadonlyMap<ObjectKey, number | undefined>, index: WorkloadIndex): ObjectKey[] {
    const next = programmedStates(configObjects(snap), invalid, index.users, (k) => index.get(k)?.outcome);
    const conflicts = gatewayConflicts(snap);
    const sigs = new Map<ObjectKey, string>();
    const changed: ObjectKey[] = [];
    for (const [k, st] of next) {
      const sig = JSON.stringify([st, conflicts.get(k) ?? []]);
      sigs.set(k, sig);
      if (this.signatures.get(k) !== sig) changed.push(k);
    }
    this.published = next;
    this.signatures = sigs;
    this.conflicts = conflicts;
    return changed;
  }
}
