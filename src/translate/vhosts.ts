// The virtual hosts of one outbound HTTP port: a virtual host per service with an HTTP (or sniffed) port of that
// number, named `<fqdn>:<port>`, matched by every name a client in the workload's namespace may use for it
// (fqdn, short forms, cluster IPs; each with and without `:<port>`), with its VirtualService's routes or the
// default route; plus virtual hosts for VirtualService hosts that are not services. Sorted by name.
//
// Which VirtualService owns a service: the one with the most specific host covering it (an exact name before
// the longest wildcard; the first VirtualService in Istio's order on a tie). Later VirtualServices for the same
// host are ignored, as on Istio sidecars. A VirtualService with no route for this sidecar and port leaves the
// service on its default route. Each domain goes to the first virtual host that claims it.
import { hostMatches, isWildcard, moreSpecific } from '../model/hosts.ts';
import { compare } from '../model/kube.ts';
import type { MeshService } from '../model/types.ts';
import { PASSTHROUGH_CLUSTER, virtualHostName } from './names.ts';
import type { TranslateContext } from './index.ts';
import { defaultRoute, virtualServiceRoutes } from './http-routes.ts';
import { listenerClass } from './listener-plan.ts';
import { duration } from './envoy/values.ts';
import type { EnvoyObject } from './types.ts';
import type { SidecarVirtualService } from './virtual-services.ts';

interface Wrapper {
  services: MeshService[];
  /** VirtualService hosts that name no service on this port. */
  hosts: string[];
  routes: EnvoyObject[];
}

const overlaps = (a: string, b: string) => hostMatches(a, b) || hostMatches(b, a);

function hasHttpPort(s: MeshService, port: number): boolean {
  const p = s.ports.find((x) => x.port === port);
  const cls = p ? listenerClass(p.protocol) : undefined;
  return cls === 'http' || cls === 'auto';
}

export function portVirtualHosts(
  ctx: TranslateContext, port: number, services: readonly MeshService[], vses: readonly SidecarVirtualService[],
): EnvoyObject[] {
  const onPort = services.filter((s) => s.ports.some((p) => p.port === port));
  const byHost = new Map(onPort.map((s) => [s.hostname, s]));
  // Port 80 also carries VirtualServices for hosts outside the registry (`bookinfo.com`).
  const selected = port === 80 ? vses : vses.filter((vs) => vs.hosts.some((h) => onPort.some((s) => overlaps(h, s.hostname))));
  const owner = owners(onPort, selected);
  const wrappers: Wrapper[] = [];
  const covered = new Set<string>();
  selected.forEach((vs, i) => {
    ctx.use(vs.key);
    const routes = virtualServiceRoutes(ctx, vs, port);
    if (routes.length === 0) return;
    const mine = onPort.filter((s) => owner.get(s.hostname) === i);
    const http = mine.filter((s) => hasHttpPort(s, port));
    const hosts = vs.hosts.filter((h) => (isWildcard(h) ? !onPort.some((s) => overlaps(h, s.hostname)) : !byHost.has(h)));
    if (http.length === 0 && port !== 80) return;
    for (const s of mine) covered.add(s.hostname);
    wrappers.push({ services: http, hosts, routes });
  });
  for (const s of onPort) {
    if (covered.has(s.hostname) || !hasHttpPort(s, port)) continue;
    wrappers.push({ services: [s], hosts: [], routes: [defaultRoute(ctx, s, port)] });
  }
  return assemble(ctx, port, wrappers);
}

/** Index of the VirtualService owning each service host (most specific covering host; first on a tie). */
function owners(services: readonly MeshService[], vses: readonly SidecarVirtualService[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of services) {
    let best: { host: string; index: number } | undefined;
    vses.forEach((vs, index) => {
      for (const h of vs.hosts) {
        if (!hostMatches(h, s.hostname)) continue;
        if (!best || (h !== best.host && moreSpecific(h, best.host))) best = { host: h, index };
      }
    });
    if (best) out.set(s.hostname, best.index);
  }
  return out;
}

function assemble(ctx: TranslateContext, port: number, wrappers: readonly Wrapper[]): EnvoyObject[] {
  const names = new Set<string>();
  // `*` belongs to the catch-all virtual host.
  const taken = new Set<string>(['*']);
  const known = new Set<string>();
  for (const w of wrappers) for (const s of w.services) known.add(s.hostname).add(`${s.hostname}:${port}`);
  const out: EnvoyObject[] = [];
  const build = (host: string, routes: EnvoyObject[], domains: string[], alt: readonly string[]) => {
    const name = virtualHostName(host, port);
    if (names.has(name)) return;
    names.add(name);
    // A short form of one host must not take the real name of another (`foo.com` expanded vs. a `foo.com` host).
    const kept = domains.filter((d) => !taken.has(d.toLowerCase()) && !(alt.includes(d) && known.has(d)));
    for (const d of kept) taken.add(d.toLowerCase());
    if (kept.length === 0) return;
    // Virtual hosts of one VirtualService share its route objects: translation output is never changed once built.
    out.push({ name, domains: kept, routes, includeRequestAttemptCount: true });
  };
  for (const w of wrappers) {
    for (const h of w.hosts) build(h, w.routes, [bracketed(h), `${bracketed(h)}:${port}`], []);
    for (const s of w.services) {
      const { domains, alt } = serviceDomains(s, port, ctx.workload.namespace, ctx.snapshot.options.clusterDomain);
      build(s.hostname, w.routes, domains, alt);
    }
  }
  return out.sort((a, b) => compare(String(a.name), String(b.name)));
}

const bracketed = (host: string) => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

/**
 * The Host header values that reach a service on `port` from `namespace`: the FQDN, Kubernetes short forms
 * (`name`, `name.ns`, `name.ns.svc` in the same namespace; `name.ns`, `name.ns.svc` elsewhere), `*.`-prefixed
 * forms for headless Kubernetes services, and the service addresses — each bare and with `:port`.
 */
export function serviceDomains(s: MeshService, port: number, namespace: string, clusterDomain: string): { domains: string[]; alt: string[] } {
  const withPort = (d: string) => [bracketed(d), `${bracketed(d)}:${port}`];
  const alt = shortForms(s.hostname, namespace, clusterDomain).flatMap(withPort);
  let domains = [...withPort(s.hostname), ...alt];
  if (s.origin === 'Kubernetes' && s.resolution === 'NONE') domains = [...domains, ...domains.map((d) => `*.${d}`)];
  for (const a of s.addresses) {
    if (a === '' || a === '0.0.0.0' || a.includes('/')) continue;
    domains.push(...withPort(a));
  }
  return { domains, alt };
}

function shortForms(host: string, namespace: string, clusterDomain: string): string[] {
  const suffix = `.svc.${clusterDomain}`;
  if (!host.endsWith(suffix)) return [];
  const ih = host.indexOf('.svc.');
  const dot = host.indexOf('.');
  if (dot + 1 > ih) return [];
  const name = host.slice(0, dot);
  const nameNs = host.slice(0, ih);
  if (host.slice(dot + 1, ih) === namespace) return [name, `${nameNs}.svc`, nameNs];
  return [nameNs, `${nameNs}.svc`];
}

/**
 * The last virtual host of a port's route configuration, for every other Host: to PassthroughCluster when the
 * mesh allows unknown destinations (no timeout), else a 502 answer.
 */
export function catchAllVirtualHost(ctx: TranslateContext): EnvoyObject {
  if (ctx.snapshot.options.outboundTrafficPolicy === 'ALLOW_ANY') {
    return {
      name: 'allow_any',
      domains: ['*'],
      routes: [{
        name: 'allow_any',
        match: { prefix: '/' },
        route: { cluster: PASSTHROUGH_CLUSTER, timeout: duration(0), maxStreamDuration: { grpcTimeoutHeaderMax: duration(0) } },
      }],
      includeRequestAttemptCount: true,
    };
  }
  return {
    name: 'block_all',
    domains: ['*'],
    routes: [{ name: 'block_all', match: { prefix: '/' }, directResponse: { status: 502 } }],
    includeRequestAttemptCount: true,
  };
}
