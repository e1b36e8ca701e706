// Where authorization decisions go: the runtime's Telemetry (weft_authz_decisions_total) and the
// `weft:authz` diagnostics channel (AuthzRecord objects, published only when someone subscribes).
import diagnosticsChannel from 'node:diagnostics_channel';
import type { AuthzRecord, Telemetry } from '../runtime.ts';
import type { RbacDecision } from './rbac-filter.ts';

export const AUTHZ_CHANNEL = 'weft:authz';
const channel = diagnosticsChannel.channel(AUTHZ_CHANNEL);

export function reportAuthz(telemetry: Telemetry, r: AuthzRecord): void {
  telemetry.authz?.(r);
  if (channel.hasSubscribers) channel.publish(r);
}

/** The records of one RBAC filter's decision: shadow rules first (as Envoy evaluates them), then the enforced rules. */
export function reportRbac(telemetry: Telemetry, protocol: 'http' | 'tcp', filter: string, d: RbacDecision): void {
  const s = d.shadow;
  if (s) {
    const r: AuthzRecord = { protocol, filter, action: s.action, decision: s.allowed ? 'allowed' : 'denied', dryRun: true, prefix: s.prefix };
    if (s.policy !== undefined) r.policy = s.policy;
    reportAuthz(telemetry, r);
  }
  if (d.action === undefined) return;
  const r: AuthzRecord = { protocol, filter, action: d.action, decision: d.logged ? 'logged' : d.allowed ? 'allowed' : 'denied', dryRun: false };
  if (d.policy !== undefined) r.policy = d.policy;
  reportAuthz(telemetry, r);
}
