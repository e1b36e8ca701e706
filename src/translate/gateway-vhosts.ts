// The HTTP side of a gateway: which VirtualServices bind to a server, the hosts they serve there, and the route
// configuration of a port's plaintext HTTP servers (`http.<port>`, all of them merged) or of one HTTPS server.
//
// A VirtualService binds to a server when its `gateways` name the server's Gateway (`name` is relative to the
// VirtualService's namespace), the server's hosts let the VirtualService's namespace in (`ns/host`, `./host`,
// `*\/host`), and some of its hosts meet the server's hosts: the more specific of each matching pair is served.
// Match entries apply when their `gateways` name the server's Gateway (or, without gateways, when their source
// conditions hold for the gateway workload). Duplicate hosts (several Gateways or VirtualServices) share one
// virtual host, the first routes first, as in Istio. `httpsRedirect` makes the server's virtual hosts answer
// 301 to https (`require_tls: ALL`), with or without VirtualServices.
import { compare } from '../model/kube.ts';
import { hostMatches, isWildcard } from '../model/hosts.ts';
import { gatewayRef, type GatewayServer } from './gateway-servers.ts';
import { virtualServiceRoutes } from './http-routes.ts';
import type { TranslateContext } from './index.ts';
import { labelsSubset } from './route-match.ts';
import { routeConfiguration } from './routes.ts';
import type { EnvoyObject } from './types.ts';
import type { SidecarVirtualService } from './virtual-services.ts';
import type { HTTPMatchRequest } from './vs-types.ts';

/** The gateways a VirtualService names, as `ns/name` (`mesh` kept), by VirtualService key. */
export type GatewayRefs = ReadonlyMap<string, ReadonlySet<string>>;

export function gatewayRefsOf(vs: { metadata?: { namespace?: string }; spec?: { gateways?: string[] } }): Set<string> {
  const ns = vs.metadata?.namespace ?? '';
  return new Set((vs.spec?.gateways ?? []).map((g) => gatewayRef(g, ns)));
}

/** The hosts `vs` serves on server `s`: none when it is not bound to the server's Gateway. */
export function boundHosts(s: GatewayServer, vs: SidecarVirtualService, refs: GatewayRefs): string[] {
  if (!refs.get(vs.key)?.has(s.ref)) return [];
  const allowed = s.hosts.filter((h) => h.namespace === '*' || h.namespace === vs.namespace).map((h) => h.host);
  const out = new Set<string>();
  for (const v of vs.hosts) {
    for (const h of allowed) {
      if (hostMatches(h, v)) out.add(v);
      else if (hostMatches(v, h)) out.add(h);
    }
  }
  return [...out];
}

/** Whether a match entry applies on this server (port, gateways, else the workload's source conditions). */
export function gatewayMatchApplies(ctx: TranslateContext, s: GatewayServer, vsNamespace: string,
  m: { port?: number; gateways?: string[]; sourceLabels?: Record<string, string | undefined>; sourceNamespace?: string } | undefined): boolean {
  if (!m) return true;
  if (m.port && m.port !== s.port) return false;
  if (m.gateways?.length) return m.gateways.some((g) => gatewayRef(g, vsNamespace) === s.ref);
  const w = ctx.workload;
  return labelsSubset(m.sourceLabels, w.labels) && (!m.sourceNamespace || m.sourceNamespace === w.namespace);
}

/** Istio's gateway domains: the host, and the host with any port (wildcard hosts: the host alone). */
function domainsOf(host: string): string[] {
  if (host === '*' || isWildcard(host)) return [host];
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return [h, `${h}:*`];
}

interface Vhost {
  name: string;
  domains: string[];
  routes: EnvoyObject[];
  requireTls?: 'ALL';
}

/** The route configuration `name` serving `servers` (one port; http servers merged, or one https server). */
export function gatewayRouteConfig(ctx: TranslateContext, name: string, servers: readonly GatewayServer[],
  vses: readonly SidecarVirtualService[], refs: GatewayRefs): EnvoyObject {
  const vhosts = new Map<string, Vhost>();
  const vhostFor = (host: string, port: number): Vhost => {
    let v = vhosts.get(host);
    if (!v) vhosts.set(host, (v = { name: `${host}:${port}`, domains: domainsOf(host), routes: [] }));
    return v;
  };
  for (const s of servers) {
    const redirect = s.spec.tls?.httpsRedirect === true;
    for (const vs of vses) {
      const hosts = boundHosts(s, vs, refs);
      if (hosts.length === 0) continue;
      ctx.use(vs.key);
      const routes = virtualServiceRoutes(ctx, vs, s.port, (m: HTTPMatchRequest | undefined) => gatewayMatchApplies(ctx, s, vs.namespace, m));
      if (routes.length === 0 && !redirect) continue;
      for (const h of hosts) {
        const v = vhostFor(h, s.port);
        v.routes = [...v.routes, ...routes];
        if (redirect) v.requireTls = 'ALL';
      }
    }
    // A redirecting server answers for its hosts even when no VirtualService is bound.
    if (redirect) for (const h of s.hosts) vhostFor(h.host, s.port).requireTls = 'ALL';
  }
  const out: EnvoyObject[] = [...vhosts.values()]
    .sort((a, b) => compare(a.name, b.name))
    // An empty list is proto3's default: left out, as decoding would.
    .map(({ routes, ...v }) => ({ ...v, ...(routes.length > 0 ? { routes } : {}), includeRequestAttemptCount: true }));
  // Nothing bound: a virtual host without routes, so every request is answered 404 (NR) rather than refused.
  if (out.length === 0) out.push({ name: `blackhole:${servers[0]?.port ?? 0}`, domains: ['*'] });
  return routeConfiguration(name, out);
}
