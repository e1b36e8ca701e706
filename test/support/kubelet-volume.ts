// A directory laid out and updated the way the kubelet's atomic writer does for ConfigMap and Secret volumes
// (hack/local-cluster/node/atomic-writer.ts, which the local node uses too), in a fresh temp dir by default.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtomicWriter } from '../../hack/local-cluster/node/atomic-writer.ts';

export class KubeletVolume extends AtomicWriter {
  constructor(dir?: string) {
    super(dir ?? mkdtempSync(join(tmpdir(), 'weft-volume-')));
  }
}

/** Polls `check` every few milliseconds until it returns true; throws after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
