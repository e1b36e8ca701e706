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
// AuthorizationPolicy and RequestAuthentication count differently: N is the workloads with config they select,
// K those whose written config carries them (ProxyConfig.inputs), read as "enforced by K/N workloads". A selected
// workload whose config was written without the policy makes it False (NotEnforced); one that selects no workload
// says so; one attached through targetRef(s) is False (NotSupported): nothing in weft takes such policies.
import type { ObjectKey } from '../../model/types.ts';
import type { Condition } from '../conditions.ts';
import type { PolicyCoverage } from './policy-coverage.ts';
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
      /** Policies only: attached by targetRef (not enforced), or the selected workloads whose written config does
       * not carry the policy. */
      policy?: { targetRef: string } | { missing: string[] };
    };

export function programmedStates(
  objects: ReadonlyMap<ObjectKey, ConfigObject>,
  invalid: ReadonlyMap<ObjectKey, number | undefined>,
  users: ReadonlyMap<ObjectKey, ReadonlySet<string>>,
  outcome: (workload: string) => Outcome | undefined,
  coverage: ReadonlyMap<ObjectKey, PolicyCoverage> = new Map(),
): Map<ObjectKey, Programmed> {
  const out = new Map<ObjectKey, Programmed>();
  for (const [key, obj] of objects) {
    const using = users.get(key) ?? new Set<string>();
    const cov = coverage.get(key);
    const us = cov?.kind === 'selector' ? [...new Set([...cov.selected, ...using])].sort() : [...using].sort();
    let written = 0;
    const failures: Array<{ workload: string; error: string }> = [];
    const large: Array<{ workload: string; bytes: number }> = [];
    const missing: string[] = [];
    for (const u of us) {
      const o = outcome(u);
      // A selected workload whose config was written without the policy does not enforce it.
      if (cov && o?.kind === 'written' && !using.has(u)) missing.push(u);
      else if (o?.kind === 'written') written++;
      if (o?.kind === 'failed') failures.push({ workload: u, error: o.error });
      if (o && o.kind !== 'pending' && o.bytes !== undefined && o.bytes > CONFIG_WARN_BYTES) large.push({ workload: u, bytes: o.bytes });
    }
    const base = { state: 'distributed' as const, generation: obj.metadata?.generation, written, failures, large };
    if (cov?.kind === 'targetRef') out.set(key, { ...base, total: 0, written: 0, policy: { targetRef: cov.field } });
    else out.set(key, { ...base, total: us.length, ...(cov ? { policy: { missing } } : {}) });
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
  if (p.policy && 'targetRef' in p.policy) {
    return {
      ...base, status: 'False', reason: 'NotSupported',
      message: `not enforced: ${p.policy.targetRef} attaches the policy to waypoints or Gateway API gateways, which weft does not run (use spec.selector)`,
    };
  }
  const missing = p.policy?.missing ?? [];
  let message = p.policy ? `enforced by ${p.written}/${p.total} workloads` : `written to ${p.written}/${p.total} ${noun}`;
  if (p.policy && p.total === 0) message += ': it selects no workload with a sidecar';
  if (missing.length > 0) {
    message += `; the config of ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''} does not carry it`;
  }
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
  const reason = p.failures.length > 0 ? 'WriteFailed' : missing.length > 0 ? 'NotEnforced' : 'Pending';
  return { ...base, status: 'False', reason, message };
}
