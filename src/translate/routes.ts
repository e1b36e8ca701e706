// buildRoutes: the outbound RouteConfigurations (envoy.config.route.v3) the sidecar's HTTP listeners name over
// RDS — `<port>` for a port-wide HTTP listener (every HTTP service on that port, then the catch-all virtual
// host) and `<fqdn>:<port>` for a sniffed service-address listener (that service only, under `*`). Inbound
// route configurations are inline in their listeners (listeners-inbound.ts).
import type { TranslateContext } from './index.ts';
import { type OutboundEntry, routeNamesOf, visibleServices } from './listener-plan.ts';
import { u32, bool } from './envoy/values.ts';
import type { EnvoyObject } from './types.ts';
import { catchAllVirtualHost, portVirtualHosts } from './vhosts.ts';
import type { SidecarVirtualService } from './virtual-services.ts';

/** Istio's limit for direct response bodies (Envoy's own default is 4 KiB). */
const MAX_DIRECT_RESPONSE_BODY = 1024 * 1024;

/** The route configurations the plan's HTTP chains name; `vses`: the ones the plan was made with. */
export function buildRoutes(ctx: TranslateContext, vses: readonly SidecarVirtualService[], entries: readonly OutboundEntry[]): EnvoyObject[] {
  const services = visibleServices(ctx);
  const byPort = new Map<number, EnvoyObject[]>();
  const hostsOf = (port: number) => {
    let v = byPort.get(port);
    if (!v) byPort.set(port, (v = portVirtualHosts(ctx, port, services, vses)));
    return v;
  };
  return routeNamesOf(entries).map((name) => {
    const sep = name.lastIndexOf(':');
    if (sep < 0) {
      const port = Number(name);
      return routeConfiguration(name, [...hostsOf(port), catchAllVirtualHost(ctx)]);
    }
    const host = name.slice(0, sep);
    const port = Number(name.slice(sep + 1));
    return routeConfiguration(name, sniffedVirtualHosts(hostsOf(port), host, port));
  });
}

/** Only the service's own virtual host (the port's, shared); when there is exactly one it answers for any Host. */
function sniffedVirtualHosts(vhosts: readonly EnvoyObject[], host: string, port: number): EnvoyObject[] {
  const mine = vhosts.filter((v) => (v.domains as string[]).some((d) => d === host || d === `${host}:${port}`));
  const only = mine[0];
  if (mine.length === 1 && only) return [{ ...only, domains: ['*'] }];
  return mine;
}

export function routeConfiguration(name: string, virtualHosts: EnvoyObject[]): EnvoyObject {
  return {
    name,
    virtualHosts,
    // Routes may name clusters a rule's destination lacks; those answer 503 instead of the config being refused.
    validateClusters: bool(false),
    maxDirectResponseBodySizeBytes: u32(MAX_DIRECT_RESPONSE_BODY),
  };
}
