// The `Programmed` condition of mesh objects, from the distribution's bookkeeping (pure: values in, values out).
// In: the config objects of the snapshot, the invalid ones, which workloads used each object (ProxyConfig.inputs)
// and each workload's write outcome. Out: a Programmed state per object, and the condition it reads as.
//
// N counts the injected workloads whose config used the object; K those whose ConfigMap holds that config. For a
// Gateway they are its gateway workloads, and the message says so.
// True  "written to N/N workloads" (reason Programmed), or "written to 0/0 workloads" (reason NoWorkloads) when no
//       injected workload uses it: there is nothing left to program, which is not a failure (a VirtualService for
//       a host no sidecar calls yet is fine).
// False "written to K/N workloads; <first failure>" (reason WriteFailed) when a write or translation failed;
//       reason Pending while writes are under way; reason Invalid when validation kept it out of translation.
// Bundles above 900 KiB gzipped (the ConfigMap limit is 1 MiB) are named in the message.
import type { ObjectKey } from '../../model/types.ts';
import type { Condition } from '../conditions.ts';
import type { ConfigObject } from './snapshot-index.ts';
import { CONFIG_WARN_BYTES } from './writer.ts';

export type Outcome =
  | { kind: 'pending' }
  | { kind: 'written'; bytes?: number }
  | { kind: 'failed'; error: string; bytes?: number };

export type Programmed =
  | { state: 'invalid'; generation?: number }
  | {
      state: 'distributed';
      generation?: number;
      total: number;
      written: number;
      failures: Array<{ workload: string; error: string }>;
      large: Array<{ workload: string; bytes: number }>;
    };

export function programmedStates(
  objects: ReadonlyMap<ObjectKey, ConfigObject>,
  invalid: ReadonlyMap<ObjectKey, number | undefined>,
  users: ReadonlyMap<ObjectKey, ReadonlySet<string>>,
  outcome: (workload: string) => Outcome | undefined,
): Map<ObjectKey, Programmed> {
  const out = new Map<ObjectKey, Programmed>();
  for (const [key, obj] of objects) {
    const us = [...(users.get(key) ?? [])].sort();
    let written = 0;
    const failures: Array<{ workload: string; error: string }> = [];
    const large: Array<{ workload: string; bytes: number }> = [];
    for (const u of us) {
      const o = outcome(u);
      if (o?.kind === 'written') written++;
      if (o?.kind === 'failed') failures.push({ workload: u, error: o.error });
      if (o && o.kind !== 'pending' && o.bytes !== undefined && o.bytes > CONFIG_WARN_BYTES) large.push({ workload: u, bytes: o.bytes });
    }
    out.set(key, { state: 'distributed', generation: obj.metadata?.generation, total: us.length, written, failures, large });
  }
  for (const [key, generation] of invalid) out.set(key, { state: 'invalid', generation });
  return out;
}

const kib = (n: number): string => `${Math.round(n / 1024)} KiB`;

/** The condition (without lastTransitionTime); observedGeneration is the generation that was translated. */
export function programmedCondition(p: Programmed, noun = 'workloads'): Condition {
  const base = { type: 'Programmed', ...(p.generation !== undefined ? { observedGeneration: p.generation } : {}) };
  if (p.state === 'invalid') {
    return { ...base, status: 'False', reason: 'Invalid', message: 'not distributed: the resource is not valid (see Accepted)' };
  }
  let message = `written to ${p.written}/${p.total} ${noun}`;
  if (p.failures.length > 0) {
    const f = p.failures[0]!;
    message += `; ${f.workload}: ${f.error}`;
    if (p.failures.length > 1) message += ` (and ${p.failures.length - 1} more)`;
  }
  if (p.large.length > 0) {
    const shown = p.large.slice(0, 3).map((l) => `${l.workload} (${kib(l.bytes)})`).join(', ');
    message += `; config near the 1 MiB ConfigMap limit: ${shown}${p.large.length > 3 ? ` and ${p.large.length - 3} more` : ''}`;
  }
  if (p.total === 0) return { ...base, status: 'True', reason: 'NoWorkloads', message };
  if (p.written === p.total) return { ...base, status: 'True', reason: 'Programmed', message };
  return { ...base, status: 'False', reason: p.failures.length > 0 ? 'WriteFailed' : 'Pending', message };
}
