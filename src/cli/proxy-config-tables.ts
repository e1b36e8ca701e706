// Summary tables of a decoded ProxyConfig for `weftctl proxy-config`, one row per listener, route, cluster or
// endpoint, laid out like istioctl's. In: Envoy objects in object form. Out: lines of text.
import { list, record } from '../model/kube.ts';
import type { EnvoyObject } from '../translate/types.ts';

type Row = string[];

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const dash = (s: string): string => s || '-';

/** Columns padded to the widest cell, three spaces apart, as kubectl prints. */
export function formatTable(header: Row, rows: Row[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd());
}

function address(a: unknown): { address: string; port: string } {
  const addr = record(a);
  const sock = record(addr.socketAddress);
  if (addr.socketAddress) return { address: str(sock.address), port: str(sock.portValue ?? 0) };
  if (addr.pipe) return { address: `unix://${str(record(addr.pipe).path)}`, port: '' };
  if (addr.envoyInternalAddress) return { address: `internal:${str(record(addr.envoyInternalAddress).serverListenerName)}`, port: '' };
  return { address: '', port: '' };
}

const HCM = 'envoy.filters.network.http_connection_manager';
const TCP = 'envoy.filters.network.tcp_proxy';

/** HTTP, TCP or HTTP+TCP by the terminal filters of its chains (others by filter name). */
function listenerType(l: EnvoyObject): string {
  const kinds = new Set<string>();
  for (const chain of [...list(l.filterChains), ...(l.defaultFilterChain ? [l.defaultFilterChain] : [])]) {
    const filters = list(record(chain).filters).map((f) => record(f));
    const types = filters.map((f) => str(record(f.typedConfig)['@type']));
    if (filters.some((f) => f.name === HCM) || types.some((t) => t.endsWith('.HttpConnectionManager'))) kinds.add('HTTP');
    else if (filters.some((f) => f.name === TCP) || types.some((t) => t.endsWith('.TcpProxy'))) kinds.add('TCP');
    else for (const f of filters) kinds.add(str(f.name));
  }
  const order = ['HTTP', 'TCP'];
  return [...kinds].sort((a, b) => (order.indexOf(a) + 1 || 9) - (order.indexOf(b) + 1 || 9) || a.localeCompare(b)).join('+');
}

export function listenersTable(listeners: readonly EnvoyObject[]): string[] {
  const rows = listeners.map((l) => {
    const a = address(l.address);
    return [str(l.name), dash(a.address), dash(a.port), dash(listenerType(l))];
  });
  return formatTable(['NAME', 'ADDRESS', 'PORT', 'TYPE'], rows);
}

function routeMatch(m: EnvoyObject): string {
  let path: string;
  if (typeof m.prefix === 'string') path = m.prefix === '/' ? '/*' : `${m.prefix}*`;
  else if (typeof m.path === 'string') path = m.path;
  else if (m.safeRegex) path = `regex ${str(record(m.safeRegex).regex)}`;
  else if (typeof m.pathSeparatedPrefix === 'string') path = `${m.pathSeparatedPrefix}/*`;
  else if (m.connectMatcher) path = 'CONNECT';
  else path = '/*';
  const extras: string[] = [];
  const headers = list(m.headers).map((h) => str(record(h).name));
  if (headers.length) extras.push(`headers: ${headers.join(',')}`);
  const params = list(m.queryParameters).map((q) => str(record(q).name));
  if (params.length) extras.push(`query: ${params.join(',')}`);
  return extras.length ? `${path} (${extras.join('; ')})` : path;
}

function routeTarget(r: EnvoyObject): string {
  if (r.route) {
    const action = record(r.route);
    if (typeof action.cluster === 'string') return action.cluster;
    if (action.weightedClusters) {
      return list(record(action.weightedClusters).clusters)
        .map((c) => `${str(record(c).name)} ${str(record(record(c).weight).value ?? 0)}`)
        .join(', ');
    }
    if (typeof action.clusterHeader === 'string') return `header ${action.clusterHeader}`;
    return '-';
  }
  if (r.redirect) return 'redirect';
  if (r.directResponse) return `direct response ${str(record(r.directResponse).status)}`;
  if (r.nonForwardingAction) return 'non-forwarding';
  return '-';
}

function domains(vh: EnvoyObject): string {
  const d = list(vh.domains).map(str);
  if (d.length === 0) return '-';
  return d.length === 1 ? d[0]! : `${d[0]} +${d.length - 1} more`;
}

export function routesTable(routes: readonly EnvoyObject[]): string[] {
  const rows: Row[] = [];
  for (const rc of routes) {
    const vhosts = list(rc.virtualHosts).map(record);
    if (vhosts.length === 0) rows.push([str(rc.name), '-', '-', '-', '-']);
    for (const vh of vhosts) {
      const entries = list(vh.routes).map(record);
      if (entries.length === 0) rows.push([str(rc.name), str(vh.name), domains(vh), '-', '-']);
      for (const r of entries) rows.push([str(rc.name), str(vh.name), domains(vh), routeMatch(record(r.match)), routeTarget(r)]);
    }
  }
  return formatTable(['NAME', 'VIRTUAL HOST', 'DOMAINS', 'MATCH', 'CLUSTER'], rows);
}

/** `name.namespace` of the DestinationRule recorded in the cluster's `istio` metadata, if any. */
function destinationRule(c: EnvoyObject): string {
  const istio = record(record(record(c.metadata).filterMetadata).istio);
  const config = str(record(record(istio.fields).config).stringValue);
  const m = /\/namespaces\/([^/]+)\/destination-rule\/([^/]+)$/.exec(config);
  return m ? `${m[2]}.${m[1]}` : '-';
}

/** `outbound|9080|v1|reviews.default.svc.cluster.local` → its parts; other names stand alone. */
export function clustersTable(clusters: readonly EnvoyObject[]): string[] {
  const rows = clusters.map((c) => {
    const name = str(c.name);
    const parts = name.split('|');
    const type = str(c.type) || (c.clusterType ? str(record(c.clusterType).name) : 'STATIC');
    if (parts.length === 4 && (parts[0] === 'inbound' || parts[0] === 'outbound')) {
      return [dash(parts[3]!), parts[1]!, dash(parts[2]!), parts[0], type, destinationRule(c)];
    }
    return [name, '-', '-', '-', type, destinationRule(c)];
  });
  return formatTable(['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE'], rows);
}

export function endpointsTable(assignments: readonly EnvoyObject[]): string[] {
  const rows: Row[] = [];
  for (const cla of assignments) {
    for (const locality of list(cla.endpoints).map(record)) {
      for (const lb of list(locality.lbEndpoints).map(record)) {
        const a = address(record(lb.endpoint).address);
        const ep = a.port ? `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}` : a.address;
        rows.push([dash(ep), str(lb.healthStatus) || 'UNKNOWN', str(cla.clusterName)]);
      }
    }
  }
  return formatTable(['ENDPOINT', 'STATUS', 'CLUSTER'], rows);
}
