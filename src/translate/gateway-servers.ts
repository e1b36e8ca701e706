// The servers one gateway workload exposes: the Gateways whose `selector` matches its labels (in any namespace;
// an empty selector matches every gateway), oldest first, their servers merged per port number as Istio merges
// them (pilot's MergeGateways):
//   - plaintext HTTP-family servers on one port share one route configuration, `http.<port>`;
//   - TLS servers (HTTPS, TLS) on one port become filter chains told apart by SNI; a terminating HTTPS server
//     gets a route configuration of its own, `https.<port>.<port name>.<gateway>.<namespace>`;
//   - anything else on a port already taken (TCP on HTTP, plaintext on TLS, a second TCP server) is rejected.
// Also: `ns/host` server hosts and how a VirtualService names a Gateway. Snapshot values in, plain plans out.
import type { Gateway } from '../api/index.ts';
import { by, creationOf, nameOf, namespaceOf, selectorMatches, stringMap } from '../model/kube.ts';
import type { ObjectKey, Snapshot, Workload } from '../model/types.ts';
import { objectKey } from './names.ts';
import { MESH_GATEWAY } from './virtual-services.ts';

export type GatewayServerSpec = NonNullable<NonNullable<Gateway['spec']>['servers']>[number];

/**
 * http: plaintext HTTP (HCM); https: TLS terminated, then HCM; tls: TLS terminated, then VirtualService `tcp`
 * routes; passthrough: TLS routed by SNI through `tls` routes; tcp: plaintext, `tcp` routes.
 */
export type ServerKind = 'http' | 'https' | 'tls' | 'passthrough' | 'tcp';

/** A server host: which namespaces' VirtualServices may bind (`*` for any) and the host itself. */
export interface ServerHost {
  namespace: string;
  host: string;
}

export interface GatewayServer {
  /** `Gateway/<ns>/<name>` */
  key: ObjectKey;
  gatewayName: string;
  gatewayNamespace: string;
  /** `<ns>/<name>`: how VirtualServices bind to the Gateway once their short names are resolved. */
  ref: string;
  spec: GatewayServerSpec;
  /** Position in the Gateway's `servers`. */
  index: number;
  port: number;
  /** undefined: a server weft does not serve (AUTO_PASSTHROUGH, HTTPS without tls, unknown protocol). */
  kind: ServerKind | undefined;
  hosts: readonly ServerHost[];
  /** The route configuration of an http or https server. */
  rds?: string;
}

export interface GatewayPort {
  port: number;
  /** TLS servers (told apart by SNI) or one plaintext kind. */
  tls: boolean;
  servers: GatewayServer[];
}

export interface RejectedServer {
  server: GatewayServer;
  reason: string;
}

const HTTP_PROTOCOLS: ReadonlySet<string> = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);
const TCP_PROTOCOLS: ReadonlySet<string> = new Set(['TCP', 'MONGO', 'MYSQL', 'REDIS']);

export const isTlsKind = (k: ServerKind | undefined): boolean => k === 'https' || k === 'tls' || k === 'passthrough';

/** Istio's TLS mode defaults to PASSTHROUGH (the enum's zero value). */
export const tlsModeOf = (s: GatewayServerSpec): string => s.tls?.mode ?? 'PASSTHROUGH';

function kindOf(s: GatewayServerSpec): ServerKind | undefined {
  const p = s.port.protocol.toUpperCase();
  if (HTTP_PROTOCOLS.has(p)) return 'http';
  if (TCP_PROTOCOLS.has(p)) return 'tcp';
  if (p !== 'HTTPS' && p !== 'TLS') return undefined;
  const mode = tlsModeOf(s);
  if (mode === 'AUTO_PASSTHROUGH' || (p === 'HTTPS' && !s.tls)) return undefined;
  if (mode === 'PASSTHROUGH') return 'passthrough';
  return p === 'HTTPS' ? 'https' : 'tls';
}

/** `host` (any namespace), `ns/host`, `./host` (the Gateway's namespace) or `*\/host`. */
export function parseServerHost(h: string, gatewayNamespace: string): ServerHost {
  const i = h.indexOf('/');
  if (i < 0) return { namespace: '*', host: h };
  const ns = h.slice(0, i);
  return { namespace: ns === '.' ? gatewayNamespace : ns, host: h.slice(i + 1) };
}

/** A Gateway as a VirtualService names it → `ns/name` (`name` and `./name`: the VirtualService's namespace;
 * `name.ns.svc.<domain>`: the FQDN form); `mesh` unchanged. */
export function gatewayRef(name: string, vsNamespace: string): string {
  if (name === MESH_GATEWAY) return name;
  const slash = name.indexOf('/');
  if (slash >= 0) {
    const ns = name.slice(0, slash);
    return `${ns === '.' ? vsNamespace : ns}/${name.slice(slash + 1)}`;
  }
  const parts = name.split('.');
  if (parts.length > 1) return `${parts[1]}/${parts[0]}`;
  return `${vsNamespace}/${name}`;
}

/** Istio's order for Gateways: oldest first, then by name and namespace. */
const gatewayOrder = by<Gateway>(creationOf, nameOf, namespaceOf);

/** The Gateways selecting a workload (empty selector: every gateway workload), in Istio's order. */
export function gatewaysFor(snapshot: Snapshot, workload: Workload): Gateway[] {
  return snapshot.config.gateways
    .filter((g) => selectorMatches(stringMap(g.spec?.selector), workload.labels))
    .sort(gatewayOrder);
}

export function gatewayServers(g: Gateway): GatewayServer[] {
  const name = nameOf(g);
  const namespace = namespaceOf(g);
  return (g.spec?.servers ?? []).map((spec, index) => {
    const kind = kindOf(spec);
    const out: GatewayServer = {
      key: objectKey('Gateway', namespace, name),
      gatewayName: name,
      gatewayNamespace: namespace,
      ref: `${namespace}/${name}`,
      spec,
      index,
      port: spec.port.number,
      kind,
      hosts: spec.hosts.map((h) => parseServerHost(h, namespace)),
    };
    if (kind === 'http') out.rds = `http.${spec.port.number}`;
    if (kind === 'https') out.rds = `https.${spec.port.number}.${spec.port.name}.${name}.${namespace}`;
    return out;
  });
}

/** Servers merged per port (see the top of this file), ports in the order they first appear. */
export function mergeServers(servers: readonly GatewayServer[]): { ports: GatewayPort[]; rejected: RejectedServer[] } {
  const ports = new Map<number, GatewayPort>();
  const rejected: RejectedServer[] = [];
  for (const s of servers) {
    if (!s.kind) {
      rejected.push({ server: s, reason: `protocol ${s.spec.port.protocol} with TLS mode ${tlsModeOf(s.spec)} is not served` });
      continue;
    }
    const cur = ports.get(s.port);
    if (!cur) {
      ports.set(s.port, { port: s.port, tls: isTlsKind(s.kind), servers: [s] });
      continue;
    }
    const first = cur.servers[0]!;
    const fits = cur.tls ? isTlsKind(s.kind) : s.kind === 'http' && first.kind === 'http';
    if (fits) cur.servers.push(s);
    else rejected.push({ server: s, reason: `port ${s.port} is taken by ${first.spec.port.protocol} server ${first.spec.port.name} of Gateway ${first.ref}` });
  }
  return { ports: [...ports.values()], rejected };
}

/** The merged servers of a gateway workload; the Gateways are recorded as used. */
export function gatewayPorts(snapshot: Snapshot, workload: Workload, use: (k: ObjectKey) => void): GatewayPort[] {
  const servers: GatewayServer[] = [];
  for (const g of gatewaysFor(snapshot, workload)) {
    use(objectKey('Gateway', namespaceOf(g), nameOf(g)));
    servers.push(...gatewayServers(g));
  }
  return mergeServers(servers).ports.sort((a, b) => a.port - b.port);
}
