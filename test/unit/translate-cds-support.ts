// Shared by the cluster and endpoint translation tests: run the two builders for one workload of a snapshot,
// check every emitted object against Envoy's schema (encodeProxyConfig), and look results up by name.
import type { Snapshot } from '../../src/model/types.ts';
import { buildClusters } from '../../src/translate/clusters.ts';
import { buildEndpoints } from '../../src/translate/endpoints.ts';
import { decodeProxyConfig, encodeProxyConfig } from '../../src/translate/envoy/proto.ts';
import type { TranslateContext } from '../../src/translate/index.ts';
import type { EnvoyObject } from '../../src/translate/types.ts';

export interface Cds {
  clusters: EnvoyObject[];
  endpoints: EnvoyObject[];
  inputs: string[];
  cluster(name: string): EnvoyObject;
  has(name: string): boolean;
  cla(name: string): EnvoyObject;
}

// Deep access into plain objects without a cast at every step.
export type Any = any;

export function cds(snap: Snapshot, namespace: string, workloadName: string): Cds {
  const workload = snap.workload(namespace, workloadName);
  if (!workload) throw new Error(`no workload ${namespace}/${workloadName}`);
  const inputs = new Set<string>();
  const ctx: TranslateContext = { workload, snapshot: snap, use: (k) => void inputs.add(k) };
  const clusters = buildClusters(ctx);
  const endpoints = buildEndpoints(ctx, clusters);
  const pc = {
    workload: { kind: workload.kind, name: workload.name, namespace: workload.namespace, serviceAccount: workload.serviceAccount, labels: workload.labels },
    listeners: [], routes: [], clusters, endpoints, inputs: [...inputs].sort(),
  };
  // Everything emitted must be valid Envoy config (the encoder is strict: unknown fields, wrong types and
  // unregistered Any types throw), and decode back to the same resources.
  const decoded = decodeProxyConfig(encodeProxyConfig(pc));
  if (decoded.clusters.map((c) => c.name).join() !== clusters.map((c) => c.name).join()) throw new Error('clusters changed in round trip');
  if (decoded.endpoints.length !== endpoints.length) throw new Error('endpoints changed in round trip');
  const byName = new Map(clusters.map((c) => [String(c.name), c]));
  const claByName = new Map(endpoints.map((e) => [String(e.clusterName), e]));
  return {
    clusters,
    endpoints,
    inputs: pc.inputs,
    cluster(name) {
      const c = byName.get(name);
      if (!c) throw new Error(`no cluster ${name}; have ${[...byName.keys()].join(', ')}`);
      return c;
    },
    has: (name) => byName.has(name),
    cla(name) {
      const e = claByName.get(name);
      if (!e) throw new Error(`no ClusterLoadAssignment ${name}; have ${[...claByName.keys()].join(', ')}`);
      return e;
    },
  };
}

/** The typed config of a cluster's upstream HttpProtocolOptions, if any. */
export function httpOptionsOf(c: EnvoyObject): Any {
  return (c.typedExtensionProtocolOptions as Any)?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
}

/** The UpstreamTlsContext of a cluster's transport socket, if any. */
export function tlsOf(c: EnvoyObject): Any {
  const ts = c.transportSocket as Any;
  return ts?.name === 'envoy.transport_sockets.tls' ? ts.typedConfig : undefined;
}

/** A Struct's fields as plain values. */
export function plain(s: Any): Any {
  if (s === undefined) return undefined;
  const value = (v: Any): Any => ('stringValue' in v ? v.stringValue : 'numberValue' in v ? v.numberValue : 'boolValue' in v ? v.boolValue
    : 'listValue' in v ? (v.listValue.values ?? []).map(value) : 'structValue' in v ? plain(v.structValue) : null);
  return Object.fromEntries(Object.entries(s.fields ?? {}).map(([k, v]) => [k, value(v)]));
}
