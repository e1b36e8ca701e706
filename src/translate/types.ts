// What translation produces for one workload: Envoy v3 resources as plain objects in protobufjs's object form
// (camelCase field names, enums by name, durations as {seconds, nanos}, `google.protobuf.Any` as
// `{ '@type': 'type.googleapis.com/<full.Name>', ...fields }`), ready for `encodeProxyConfig` (src/translate/envoy).
import type { Labels, ObjectKey, WorkloadKind } from '../model/types.ts';

export type EnvoyObject = Record<string, unknown>;

export interface ProxyConfig {
  workload: { kind: WorkloadKind; name: string; namespace: string; serviceAccount: string; labels: Labels };
  /** envoy.config.listener.v3.Listener, sorted by name. */
  listeners: EnvoyObject[];
  /** envoy.config.route.v3.RouteConfiguration, sorted by name. */
  routes: EnvoyObject[];
  /** envoy.config.cluster.v3.Cluster, sorted by name. */
  clusters: EnvoyObject[];
  /** envoy.config.endpoint.v3.ClusterLoadAssignment, sorted by clusterName. */
  endpoints: EnvoyObject[];
  /** The mesh config objects that shaped this output (sorted): the dependency index and `Programmed` read it. */
  inputs: ObjectKey[];
}
