// Outbound listeners (envoy.config.listener.v3.Listener): `virtualOutbound` on 15001, which receives every
// redirected connection and hands it to the listener of its original destination, and the per-destination
// listeners of the plan (bindToPort false: reached only through that hand-off). Traffic no listener or chain
// claims goes to PassthroughCluster (ALLOW_ANY) or BlackHoleCluster (REGISTRY_ONLY).
import type { TranslateContext } from './index.ts';
import type { OutboundEntry } from './listener-plan.ts';
import { matchesAll } from './listener-plan.ts';
import {
  BLACKHOLE_CLUSTER, OUTBOUND_CAPTURE_PORT, PASSTHROUGH_CLUSTER, VIRTUAL_OUTBOUND_LISTENER, listenerName,
} from './names.ts';
import {
  WILDCARD_ADDRESS, cidrRange, httpConnectionManagerFilter, httpInspectorFilter, socketAddress, tcpProxyFilter, tlsInspectorFilter,
} from './network-filters.ts';
import { bool, duration, u32 } from './envoy/values.ts';
import type { ChainMatch, ChainOpt } from './tcp-chains.ts';
import type { EnvoyObject } from './types.ts';

export const PASSTHROUGH_FILTER_CHAIN = 'PassthroughFilterChain';

/** Where unknown destinations go. */
export function egressCluster(ctx: TranslateContext): string {
  return ctx.snapshot.options.outboundTrafficPolicy === 'ALLOW_ANY' ? PASSTHROUGH_CLUSTER : BLACKHOLE_CLUSTER;
}

function egressFilters(ctx: TranslateContext): EnvoyObject[] {
  const cluster = egressCluster(ctx);
  return [tcpProxyFilter(cluster, { kind: 'cluster', name: cluster })];
}

/**
 * The capture listener. `useOriginalDst` hands each connection to the listener for its original destination
 * (which runs its own inspectors); what has none stays here: connections addressed to 15001 itself are dropped
 * (they would loop), everything else is egress.
 */
export function virtualOutboundListener(ctx: TranslateContext): EnvoyObject {
  return {
    name: VIRTUAL_OUTBOUND_LISTENER,
    address: socketAddress(WILDCARD_ADDRESS, OUTBOUND_CAPTURE_PORT),
    useOriginalDst: bool(true),
    trafficDirection: 'OUTBOUND',
    filterChains: [
      {
        name: 'virtualOutbound-blackhole',
        filterChainMatch: { destinationPort: u32(OUTBOUND_CAPTURE_PORT) },
        filters: [tcpProxyFilter(BLACKHOLE_CLUSTER, { kind: 'cluster', name: BLACKHOLE_CLUSTER })],
      },
      { name: 'virtualOutbound-catchall-tcp', filters: egressFilters(ctx) },
    ],
  };
}

function filterChainMatch(m: ChainMatch): EnvoyObject {
  const out: EnvoyObject = {};
  if (m.cidrs?.length) out.prefixRanges = [...m.cidrs].sort().map(cidrRange);
  if (m.serverNames?.length && !m.serverNames.includes('*')) out.serverNames = [...m.serverNames].sort();
  if (m.transportProtocol) out.transportProtocol = m.transportProtocol;
  if (m.applicationProtocols?.length) out.applicationProtocols = [...m.applicationProtocols];
  return out;
}

function chainFilters(ctx: TranslateContext, e: OutboundEntry, c: ChainOpt): EnvoyObject[] {
  if (c.kind === 'network') return c.filters;
  const name = listenerName(e.bind, e.port);
  return [httpConnectionManagerFilter({
    statPrefix: `outbound_${name}`, routes: { kind: 'rds', name: c.rds }, protocol: c.protocol, direction: 'outbound',
    pathNormalization: ctx.snapshot.options.pathNormalization,
  })];
}

export function outboundListener(ctx: TranslateContext, e: OutboundEntry): EnvoyObject {
  const l: EnvoyObject = {
    name: listenerName(e.bind, e.port),
    address: socketAddress(e.bind, e.port),
    trafficDirection: 'OUTBOUND',
    continueOnListenerFiltersTimeout: true,
    bindToPort: bool(false),
  };
  const tls = e.chains.some((c) => c.match.serverNames?.length || c.match.applicationProtocols?.length);
  const http = e.chains.some((c) => c.match.applicationProtocols?.length);
  const listenerFilters: EnvoyObject[] = [];
  // The TLS inspector runs before the HTTP inspector: a TLS connection is then never taken for HTTP.
  if (tls) listenerFilters.push(tlsInspectorFilter());
  if (http) listenerFilters.push(httpInspectorFilter());
  if (listenerFilters.length > 0) l.listenerFilters = listenerFilters;
  // No protocol detection timeout: inspectors wait for the client's first bytes (0 disables Envoy's 15s).
  l.listenerFiltersTimeout = duration(0);
  let fallback: EnvoyObject | undefined;
  const chains: EnvoyObject[] = [];
  for (const c of e.chains) {
    const chain: EnvoyObject = { filters: chainFilters(ctx, e, c) };
    // A chain without conditions is the listener's default, so a half-matching connection never drops.
    if (matchesAll(c.match)) fallback ??= chain;
    else chains.push({ filterChainMatch: filterChainMatch(c.match), ...chain });
  }
  if (fallback && chains.length === 0) {
    l.filterChains = [fallback];
  } else {
    l.filterChains = chains;
    l.defaultFilterChain = fallback ?? { filterChainMatch: {}, name: PASSTHROUGH_FILTER_CHAIN, filters: egressFilters(ctx) };
  }
  return l;
}
