// The Programmed answers the loop publishes: computed after each batch (programmed.ts), kept for the status
// reconciler, and only the objects whose answer changed are reported. With them, the Gateways' findings that need
// the whole snapshot, so are found here rather than by the per-object status reconciler
// (src/translate/gateway-conflicts.ts): IST0145 ConflictingGateways, and the servers a gateway workload leaves out
// when merging its Gateways — IST0145 too when another Gateway's server holds the port, else WEFT0001.
import type { ObjectKey, Snapshot, Workload } from '../../model/types.ts';
import { gatewayConflicts, rejectedGatewayServers } from '../../translate/gateway-conflicts.ts';
import type { Finding } from '../../validate/result.ts';
import { policyCoverage, policyFindings } from './policy-coverage.ts';
import { programmedStates, type Programmed } from './programmed.ts';
import { configObjects } from './snapshot-index.ts';
import type { WorkloadIndex } from './workload-index.ts';

/** A Gateway server weft does not serve for a reason other than a conflict (a TLS mode it does not support). */
export const CODE_SERVER_NOT_SERVED = 'WEFT0001';

/** The Gateway findings of one snapshot, by Gateway key. */
export function gatewayFindings(snap: Snapshot): Map<ObjectKey, Finding[]> {
  const out = new Map<ObjectKey, Finding[]>();
  const add = (k: ObjectKey, f: Finding): void => void out.set(k, [...(out.get(k) ?? []), f]);
  for (const [k, cs] of gatewayConflicts(snap)) for (const c of cs) add(k, { field: c.field, message: c.message, code: c.code });
  for (const [k, rs] of rejectedGatewayServers(snap)) {
    for (const r of rs) add(k, { field: r.field, message: r.message, code: /: port \d+ is taken by /.test(r.message) ? 'IST0145' : CODE_SERVER_NOT_SERVED });
  }
  return out;
}

export class Publication {
  private published = new Map<ObjectKey, Programmed>();
  private signatures = new Map<ObjectKey, string>();
  private findings = new Map<ObjectKey, Finding[]>();

  get(key: ObjectKey): Programmed | undefined {
    return this.published.get(key);
  }

  /** Mesh-wide findings of an object (empty when it has none); undefined before the first batch saw it. */
  findingsOf(key: ObjectKey): Finding[] | undefined {
    if (!this.published.has(key)) return undefined;
    return this.findings.get(key) ?? [];
  }

  clear(): void {
    this.published = new Map();
    this.signatures = new Map();
    this.findings = new Map();
  }

  /** The answers for `snap`'s config objects; returns the keys whose answer changed. */
  update(
    snap: Snapshot,
    invalid: ReadonlyMap<ObjectKey, number | undefined>,
    index: WorkloadIndex,
    policies?: { rootNamespace: string; distributed: (w: Workload) => boolean },
  ): ObjectKey[] {
    const coverage = policies ? policyCoverage(snap, policies.rootNamespace, policies.distributed) : new Map();
    const next = programmedStates(configObjects(snap), invalid, index.users, (k) => index.get(k)?.outcome, coverage);
    const findings = gatewayFindings(snap);
    for (const [k, fs] of policyFindings(snap, coverage)) findings.set(k, [...(findings.get(k) ?? []), ...fs]);
    const sigs = new Map<ObjectKey, string>();
    const changed: ObjectKey[] = [];
    for (const [k, st] of next) {
      const sig = JSON.stringify([st, findings.get(k) ?? []]);
      sigs.set(k, sig);
      if (this.signatures.get(k) !== sig) changed.push(k);
    }
    this.published = next;
    this.signatures = sigs;
    this.findings = findings;
    return changed;
  }
}
