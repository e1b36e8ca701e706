// A sidecar's Envoy listeners — `virtualOutbound` (15001) and the outbound listeners it hands
// connections to (listener-plan.ts decides which), and `virtualInbound` (15006). Routes for the outbound HTTP
// listeners come over RDS from buildRoutes; inbound routes are inline.
import type { TranslateContext } from './index.ts';
import type { OutboundEntry } from './listener-plan.ts';
import { virtualInboundListener } from './listeners-inbound.ts';
import { outboundListener, virtualOutboundListener } from './listeners-outbound.ts';
import type { EnvoyObject } from './types.ts';

/** `virtualOutbound` and the outbound listeners of the plan (planOutbound) it hands connections to, unsorted. */
export function buildOutboundListeners(ctx: TranslateContext, entries: readonly OutboundEntry[]): EnvoyObject[] {
  return [...entries.map((e) => outboundListener(ctx, e)), virtualOutboundListener(ctx)];
}

/** `virtualInbound`. */
export function buildInboundListeners(ctx: TranslateContext): EnvoyObject[] {
  return [virtualInboundListener(ctx)];
}
