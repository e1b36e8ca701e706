// Which listener takes a connection and which of its filter chains serves it, with Envoy's rules: the capture
// listener (virtualOutbound / virtualInbound) hands a connection to the listener bound to its original
// destination (exact ip:port first, then the wildcard address on that port) when it has use_original_dst; the
// listener filters decide what is known (tls_inspector: "tls", SNI, ALPN; http_inspector: http/1.1 or h2c);
// filter chains are narrowed criterion by criterion — destination port, destination IP, server name, transport
// protocol, application protocol, source type, source IP, source port — taking the most specific value present
// and never backtracking; no chain left means the default filter chain, or a closed connection.
import { anyType, arr, bool, isObj, num, obj, str, strs, u32 } from './envoy-values.ts';
import type { Obj } from './envoy-values.ts';

export interface Connection {
  destinationIp?: string;
  port: number;
  sourceIp?: string;
  /** What the client sends first. */
  tls?: { sni?: string; alpn?: string[] };
  http?: 'http1' | 'http1.0' | 'http2';
}

/** What the listener filters found out about a connection. */
export interface Detected {
  transportProtocol: string;
  serverName?: string;
  applicationProtocols: string[];
}

const TLS_INSPECTOR = ['envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector', 'envoy.filters.listener.tls_inspector'];
const HTTP_INSPECTOR = ['envoy.extensions.filters.listener.http_inspector.v3.HttpInspector', 'envoy.filters.listener.http_inspector'];

export function listenerAddress(l: Obj): { ip: string; port: number } | undefined {
  const sa = obj(obj(l.address).socketAddress);
  const port = num(sa.portValue);
  return port === undefined ? undefined : { ip: str(sa.address), port };
}

/** ListenerFilterChainMatchPredicate (filter_disabled). */
function predicate(p: Obj, c: Connection): boolean {
  if (bool(p.anyMatch, false)) return true;
  if (isObj(p.destinationPortRange)) {
    const r = p.destinationPortRange;
    return c.port >= (num(r.start) ?? 0) && c.port < (num(r.end) ?? 0);
  }
  if (isObj(p.notMatch)) return !predicate(p.notMatch, c);
  if (isObj(p.orMatch)) return arr(p.orMatch.rules).some((r) => predicate(r, c));
  if (isObj(p.andMatch)) return arr(p.andMatch.rules).every((r) => predicate(r, c));
  return false;
}

function hasListenerFilter(l: Obj, kinds: readonly string[], c: Connection): boolean {
  return arr(l.listenerFilters).some((f) => (kinds.includes(anyType(f.typedConfig)) || kinds.includes(str(f.name)))
    && !(isObj(f.filterDisabled) && predicate(f.filterDisabled, c)));
}

export function detect(l: Obj, c: Connection): Detected {
  if (c.tls) {
    if (!hasListenerFilter(l, TLS_INSPECTOR, c)) return { transportProtocol: 'raw_buffer', applicationProtocols: [] };
    return { transportProtocol: 'tls', ...(c.tls.sni ? { serverName: c.tls.sni } : {}), applicationProtocols: c.tls.alpn ?? [] };
  }
  const alpn = c.http === 'http2' ? 'h2c' : c.http === 'http1.0' ? 'http/1.0' : 'http/1.1';
  const app = c.http && hasListenerFilter(l, HTTP_INSPECTOR, c) ? [alpn] : [];
  return { transportProtocol: 'raw_buffer', applicationProtocols: app };
}

function ipv4(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

/** The prefix length of the longest CidrRange in `ranges` containing `ip`, or -1. (IPv4; IPv6 by exact address.) */
function longestPrefix(ranges: Obj[], ip: string | undefined): number {
  if (!ip) return -1;
  let best = -1;
  const addr = ipv4(ip);
  for (const r of ranges) {
    const prefix = str(r.addressPrefix);
    const len = u32(r.prefixLen) ?? 0;
    const base = ipv4(prefix);
    let hit: boolean;
    if (addr !== undefined && base !== undefined) {
      const mask = len === 0 ? 0 : len >= 32 ? 0xffffffff : (0xffffffff << (32 - len)) >>> 0;
      hit = ((addr & mask) >>> 0) === ((base & mask) >>> 0);
    } else {
      hit = prefix === ip || (len === 0 && prefix.includes(':') === ip.includes(':'));
    }
    if (hit && len > best) best = len;
  }
  return best;
}

type Chain = { chain: Obj; m: Obj };

/** Keep the chains whose criterion is the best present value; otherwise those without the criterion. */
function narrow(chains: Chain[], score: (c: Chain) => number | undefined): Chain[] {
  // score: undefined = criterion absent (wildcard), -1 = present but not matching, >= 0 = matching (higher wins).
  let best = -1;
  for (const c of chains) best = Math.max(best, score(c) ?? -1);
  if (best >= 0) return chains.filter((c) => score(c) === best);
  return chains.filter((c) => score(c) === undefined);
}

function serverNameScore(names: string[], sni: string | undefined): number | undefined {
  if (names.length === 0) return undefined;
  if (!sni) return -1;
  const host = sni.toLowerCase();
  if (names.includes(host)) return 10_000;
  // Wildcards: the longest matching `*.suffix` wins.
  let best = -1;
  for (const n of names) if (n.startsWith('*.') && host.endsWith(n.slice(1)) && host.length > n.length - 1) best = Math.max(best, n.length);
  return best;
}

function isLocal(c: Connection): boolean {
  const s = c.sourceIp;
  return s !== undefined && (s.startsWith('127.') || s === '::1' || s === c.destinationIp);
}

export function selectFilterChain(l: Obj, c: Connection, d: Detected): Obj | undefined {
  let chains: Chain[] = arr(l.filterChains).map((chain) => ({ chain, m: obj(chain.filterChainMatch) }));
  const steps: Array<(x: Chain) => number | undefined> = [
    ({ m }) => (u32(m.destinationPort) === undefined ? undefined : u32(m.destinationPort) === c.port ? 0 : -1),
    ({ m }) => (arr(m.prefixRanges).length === 0 ? undefined : longestPrefix(arr(m.prefixRanges), c.destinationIp)),
    ({ m }) => serverNameScore(strs(m.serverNames).map((s) => s.toLowerCase()), d.serverName),
    ({ m }) => (!str(m.transportProtocol) ? undefined : str(m.transportProtocol) === d.transportProtocol ? 0 : -1),
    ({ m }) => {
      const protocols = strs(m.applicationProtocols);
      if (protocols.length === 0) return undefined;
      // The client's first protocol (in its order) that some chain lists wins.
      const i = d.applicationProtocols.findIndex((p) => protocols.includes(p));
      return i < 0 ? -1 : 1000 - i;
    },
    ({ m }) => (arr(m.directSourcePrefixRanges).length === 0 ? undefined : longestPrefix(arr(m.directSourcePrefixRanges), c.sourceIp)),
    ({ m }) => {
      const t = str(m.sourceType);
      if (!t || t === 'ANY') return undefined;
      return (t === 'SAME_IP_OR_LOOPBACK') === isLocal(c) ? 0 : -1;
    },
    ({ m }) => (arr(m.sourcePrefixRanges).length === 0 ? undefined : longestPrefix(arr(m.sourcePrefixRanges), c.sourceIp)),
    // The client's source port is not part of a request description: chains that need one do not match.
    ({ m }) => (Array.isArray(m.sourcePorts) && m.sourcePorts.length > 0 ? -1 : undefined),
  ];
  for (const step of steps) {
    chains = narrow(chains, step);
    if (chains.length === 0) break;
  }
  if (chains.length > 0) return chains[0]!.chain;
  return isObj(l.defaultFilterChain) ? l.defaultFilterChain : undefined;
}
