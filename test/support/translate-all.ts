// Every distributed workload of a snapshot translated the way the distribution loop does it, with the reads and
// inputs its dependency index records: what the dependency-rule tests compare before and after a change.
import type { DependencyEntry } from '../../src/controllers/distribution/dependencies.ts';
import { stableJson, workloadKey } from '../../src/controllers/distribution/snapshot-index.ts';
import { emptyReads, trackingSnapshot } from '../../src/controllers/distribution/tracking.ts';
import type { Snapshot } from '../../src/model/types.ts';
import { translate } from '../../src/translate/index.ts';

export interface Translated {
  entries: Map<string, DependencyEntry>;
  outputs: Map<string, string>;
}

export function translateAll(snap: Snapshot): Translated {
  const entries = new Map<string, DependencyEntry>();
  const outputs = new Map<string, string>();
  for (const w of snap.workloads) {
    if (!w.injected) continue;
    const reads = emptyReads();
    const pc = translate(w, trackingSnapshot(snap, reads));
    entries.set(workloadKey(w), { namespace: w.namespace, labels: w.labels, inputs: new Set(pc.inputs), reads });
    outputs.set(workloadKey(w), stableJson(pc));
  }
  return { entries, outputs };
}
