// Shared by the listener and route translation tests: translate one workload of a snapshot, check every
// emitted listener and route configuration against Envoy's schema (encodeProxyConfig) and that it decodes back
// unchanged, and look results up by name.
import type { Snapshot } from '../../src/model/types.ts';
import { decodeProxyConfig, encodeProxyConfig } from '../../src/translate/envoy/proto.ts';
import { translate } from '../../src/translate/index.ts';
import type { EnvoyObject, ProxyConfig } from '../../src/translate/types.ts';

// Deep access into plain objects without a cast at every step.
export type Any = any;

export interface Xds {
  pc: ProxyConfig;
  listener(name: string): Any;
  listenerNames(): string[];
  routeConfig(name: string): Any;
  routeNames(): string[];
  /** A virtual host of a route configuration, by name. */
  vhost(routeName: string, name: string): Any;
  /** The routes of the virtual host `<host>:<port>` of route configuration `<port>`. */
  routesOf(host: string, port: number): Any[];
  /** The typed config of the only filter of a chain. */
  config(chain: Any, index?: number): Any;
}

export function xds(snap: Snapshot, namespace: string, workloadName: string): Xds {
  const workload = snap.workload(namespace, workloadName);
  if (!workload) throw new Error(`no workload ${namespace}/${workloadName}`);
  const pc = translate(workload, snap);
  // Strict encoding: unknown fields, wrong types, unregistered Any types and invalid enums throw. Decoding must
  // give the same objects back (nothing emitted is a proto3 default that would silently disappear).
  const decoded = decodeProxyConfig(encodeProxyConfig(pc));
  assertSame(decoded.listeners, pc.listeners, 'listeners');
  assertSame(decoded.routes, pc.routes, 'routes');
  const find = (list: EnvoyObject[], name: string, what: string) => {
    const o = list.find((x) => x.name === name);
    if (!o) throw new Error(`no ${what} ${name}; have ${list.map((x) => x.name).join(', ')}`);
    return o as Any;
  };
  const self: Xds = {
    pc,
    listener: (name) => find(pc.listeners, name, 'listener'),
    listenerNames: () => pc.listeners.map((l) => String(l.name)),
    routeConfig: (name) => find(pc.routes, name, 'route configuration'),
    routeNames: () => pc.routes.map((r) => String(r.name)),
    vhost: (routeName, name) => find(self.routeConfig(routeName).virtualHosts, name, 'virtual host'),
    routesOf: (host, port) => self.vhost(String(port), `${host}:${port}`).routes,
    config: (chain, index = 0) => chain.filters[index].typedConfig,
  };
  return self;
}

function assertSame(got: unknown, want: unknown, what: string): void {
  const where = firstDifference(got, want, what);
  if (where) throw new Error(`${where} changed in an encode/decode round trip`);
}

/** Path of the first difference between two JSON-like values (object key order ignored), or undefined. */
function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return a === b ? undefined : `${path} (${JSON.stringify(a)} vs ${JSON.stringify(b)})`;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return path;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return undefined;
}
