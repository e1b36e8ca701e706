// Which outbound listeners a sidecar gets, and which filter chains each holds: one entry per bind address and
// port, filled service port by service port, with Istio's rules for ports several services share.
//
//   HTTP-family ports (HTTP, HTTP2, GRPC, GRPC-WEB) share one `0.0.0.0_<port>` listener whose HTTP chain (RDS
//     route `<port>`) is picked by HTTP sniffing; anything else falls to the passthrough chain.
//   TCP-family and TLS ports get a listener on the service address, `<address>_<port>`; a service without one
//     gets a listener per endpoint IP when headless, else `0.0.0.0_<port>` (told apart by SNI for TLS).
//   UNKNOWN ports are sniffed: on the service address, a TCP chain plus an HTTP chain (RDS `<host>:<port>`).
//   On a shared bind+port, HTTP over TCP (or the reverse) merges into one sniffing listener; TCP over TCP keeps
//   the chains whose matches differ (the first wins); MONGO and MYSQL never share a port with another protocol.
//
// Services are taken in snapshot order, so "first" is deterministic. Context in, plan entries out.
import type { MeshService, Protocol, ServicePort } from '../model/types.ts';
import { isIpAddress } from '../validate/networking-common.ts';
import type { TranslateContext } from './index.ts';
import { outboundRouteName } from './names.ts';
import { PLAINTEXT_HTTP_ALPNS, RAW_BUFFER, WILDCARD_ADDRESS } from './network-filters.ts';
import { l4Chains, virtualServicesForHost } from './tcp-chains.ts';
import type { ChainMatch, ChainOpt } from './tcp-chains.ts';
import type { SidecarVirtualService } from './virtual-services.ts';

export type ListenerClass = 'http' | 'tcp' | 'auto';

export function listenerClass(p: Protocol): ListenerClass | undefined {
  switch (p) {
    case 'HTTP': case 'HTTP2': case 'GRPC': case 'GRPC-WEB': return 'http';
    case 'TCP': case 'HTTPS': case 'TLS': case 'MONGO': case 'MYSQL': case 'REDIS': return 'tcp';
    case 'UNKNOWN': return 'auto';
    default: return undefined; // UDP is not proxied.
  }
}

export interface OutboundEntry {
  bind: string;
  port: number;
  /** The protocol the listener is known by; UNKNOWN once HTTP and TCP chains share it (sniffing). */
  protocol: Protocol;
  chains: ChainOpt[];
}

/**
 * Ports the proxy itself listens on (admin, capture, health, metrics): a service port or target port with one
 * of these numbers would collide with the proxy's own listeners or chains, so it gets none (as in Istio).
 */
export const PROXY_PORTS: ReadonlySet<number> = new Set([15000, 15001, 15004, 15006, 15008, 15020, 15021, 15053, 15090]);

/** Visible services: the snapshot already gives one per hostname, the one serviceFor picks for the namespace. */
export function visibleServices(ctx: TranslateContext): readonly MeshService[] {
  return ctx.snapshot.servicesFor(ctx.workload.namespace);
}

/** The route configuration a sniffed service-address listener uses: that service's hosts only. */
export const sniffedRouteName = (host: string, port: number) => `${host}:${port}`;

export function planOutbound(ctx: TranslateContext, vses: readonly SidecarVirtualService[]): OutboundEntry[] {
  const entries = new Map<string, OutboundEntry>();
  const ownIps = new Set(ctx.workload.pods.map((p) => p.ip).filter((ip): ip is string => Boolean(ip)));
  for (const service of visibleServices(ctx)) {
    const hostVses = virtualServicesForHost(vses, service.hostname);
    for (const port of service.ports) {
      const cls = listenerClass(port.protocol);
      if (!cls || PROXY_PORTS.has(port.port)) continue;
      for (const b of bindsFor(ctx, service, port, cls, ownIps)) {
        add(ctx, entries, { service, port, cls, bind: b.bind, cidr: b.cidr, hostVses });
      }
    }
  }
  return [...entries.values()];
}

interface Bind { bind: string; cidr?: string }

function bindsFor(ctx: TranslateContext, service: MeshService, port: ServicePort, cls: ListenerClass, ownIps: ReadonlySet<string>): Bind[] {
  if (cls === 'http') return [{ bind: WILDCARD_ADDRESS }];
  // A ServiceEntry's addresses each stand for the host; a Kubernetes service is reached on its (first) cluster IP.
  const addresses = service.origin === 'ServiceEntry' ? service.addresses : service.addresses.slice(0, 1);
  if (addresses.length > 0) return addresses.map((a) => (a.includes('/') ? { bind: WILDCARD_ADDRESS, cidr: a } : { bind: a }));
  if (service.resolution !== 'NONE') return [{ bind: WILDCARD_ADDRESS }];
  // Headless: one listener per endpoint IP (a wildcard listener would catch every destination on the port).
  const endpoints = ctx.snapshot.endpoints(service, port);
  if (endpoints.length === 0 && service.origin === 'ServiceEntry' && !service.selector) return [{ bind: WILDCARD_ADDRESS }];
  const ips = new Set<string>();
  for (const e of endpoints) if (isIpAddress(e.address) && !ownIps.has(e.address)) ips.add(e.address);
  return [...ips].sort().map((bind) => ({ bind }));
}

interface Incoming {
  service: MeshService;
  port: ServicePort;
  cls: ListenerClass;
  bind: string;
  cidr?: string;
  hostVses: readonly SidecarVirtualService[];
}

const SNIFFED_HTTP: ChainMatch = { applicationProtocols: PLAINTEXT_HTTP_ALPNS, transportProtocol: RAW_BUFFER };

function add(ctx: TranslateContext, entries: Map<string, OutboundEntry>, i: Incoming): void {
  const key = `${i.bind}_${i.port.port}`;
  const cur = entries.get(key);
  const curCls = cur ? listenerClass(cur.protocol) : undefined;
  if (cur && cur.protocol !== i.port.protocol && (isExclusive(cur.protocol) || isExclusive(i.port.protocol))) return;
  const l4 = () => l4Chains(ctx, { service: i.service, port: i.port, cidr: i.cidr, wildcardBind: i.bind === WILDCARD_ADDRESS }, i.hostVses);
  const http = (rds: string): ChainOpt => ({ kind: 'http', match: SNIFFED_HTTP, rds, protocol: i.port.protocol });
  switch (i.cls) {
    case 'http': {
      if (cur && curCls !== 'tcp') return;
      const chain = http(outboundRouteName(i.port.port));
      // On the wildcard address the HTTP chain is sniffed, so the listener counts as a sniffing one.
      if (!cur) entries.set(key, { bind: i.bind, port: i.port.port, protocol: 'UNKNOWN', chains: [chain] });
      else upgrade(cur, [chain]);
      return;
    }
    case 'tcp': {
      if (!cur) entries.set(key, { bind: i.bind, port: i.port.port, protocol: i.port.protocol, chains: l4() });
      else if (curCls === 'http') upgrade(cur, l4());
      else merge(cur, l4());
      return;
    }
    case 'auto': {
      if (cur && curCls === 'auto') return;
      const rds = i.bind === WILDCARD_ADDRESS ? outboundRouteName(i.port.port) : sniffedRouteName(i.service.hostname, i.port.port);
      const chains = [...l4(), http(rds)];
      if (!cur || curCls === 'http') entries.set(key, { bind: i.bind, port: i.port.port, protocol: 'UNKNOWN', chains });
      else upgrade(cur, chains);
      return;
    }
  }
}

/** Server-first database protocols break under sniffing, so they keep a port to themselves. */
const isExclusive = (p: Protocol) => p === 'MONGO' || p === 'MYSQL';

function upgrade(cur: OutboundEntry, incoming: ChainOpt[]): void {
  merge(cur, incoming);
  cur.protocol = 'UNKNOWN';
}

function merge(cur: OutboundEntry, incoming: readonly ChainOpt[]): void {
  for (const c of incoming) if (!cur.chains.some((e) => sameMatch(e.match, c.match))) cur.chains.push(c);
}

const setKey = (xs: readonly string[] | undefined, drop: (x: string) => boolean = () => false) =>
  [...new Set((xs ?? []).filter((x) => !drop(x)))].sort().join(',');

/** Chains Envoy could not tell apart: the same transport, ALPNs, SNI names (ignoring `*`) and ranges. */
export function sameMatch(a: ChainMatch, b: ChainMatch): boolean {
  return (a.transportProtocol ?? '') === (b.transportProtocol ?? '')
    && (a.applicationProtocols ?? []).join(',') === (b.applicationProtocols ?? []).join(',')
    && setKey(a.serverNames, (s) => s === '*') === setKey(b.serverNames, (s) => s === '*')
    && setKey(a.cidrs, (c) => c.startsWith('0.0.0.0/') || c === '0.0.0.0') === setKey(b.cidrs, (c) => c.startsWith('0.0.0.0/') || c === '0.0.0.0');
}

/** A chain without conditions: it takes whatever no other chain matches. */
export function matchesAll(m: ChainMatch): boolean {
  return (!m.serverNames?.length || m.serverNames.includes('*')) && !m.applicationProtocols?.length
    && !m.transportProtocol && !m.cidrs?.length;
}

/** Every route configuration name the plan's HTTP chains refer to. */
export function routeNamesOf(entries: readonly OutboundEntry[]): string[] {
  const names = new Set<string>();
  for (const e of entries) for (const c of e.chains) if (c.kind === 'http') names.add(c.rds);
  return [...names].sort();
}
