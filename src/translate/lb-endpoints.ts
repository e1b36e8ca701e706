// A cluster's endpoints in Envoy's form: the service port's endpoints (filtered by the subset's labels), grouped
// by locality, weighted, with health and the metadata telemetry and mTLS read, then shaped by the locality LB
// setting. Used for EDS ClusterLoadAssignments and for the inline load assignments of DNS clusters.
import { compare, selectorMatches } from '../model/kube.ts';
import type { Endpoint, MeshService, ServicePort } from '../model/types.ts';
import type { TranslateContext } from './index.ts';
import {
  applyLocalitySetting, type ClientView, type EndpointEntry, envoyLocality, type LocalityGroup, localitySettingFor,
  withTopologyLabels,
} from './locality.ts';
import { type ClusterPlan, subsetLabels } from './cluster-plan.ts';
import { u32 } from './envoy/values.ts';
import { struct } from './policy-values.ts';
import type { EnvoyObject } from './types.ts';

/** Metadata key Envoy matches transport sockets on (auto mTLS picks the mTLS socket for `tlsMode: istio`). */
export const TRANSPORT_SOCKET_MATCH_KEY = 'envoy.transport_socket_match';

/** The port an endpoint serves a service port on: its own mapping, else the service's numeric targetPort. */
export function endpointPort(ep: Endpoint, port: ServicePort): number {
  const own = ep.ports[port.name];
  if (own !== undefined) return own;
  return typeof port.targetPort === 'number' ? port.targetPort : port.port;
}

export function envoyAddress(address: string, portValue: number): EnvoyObject {
  if (address.startsWith('unix://')) return { pipe: { path: address.slice('unix://'.length) } };
  return { socketAddress: { address, portValue } };
}

function endpointMetadata(ep: Endpoint, service: MeshService): EnvoyObject {
  const labels = ep.labels;
  const istio = struct({
    workload: ep.workload?.name,
    namespace: ep.workload?.namespace ?? service.namespace,
    serviceAccount: ep.serviceAccount,
    app: labels['app'] ?? labels['app.kubernetes.io/name'],
    version: labels['version'] ?? labels['app.kubernetes.io/version'],
    tlsMode: ep.sidecar ? 'istio' : undefined,
  });
  const filterMetadata: EnvoyObject = { istio };
  if (ep.sidecar) filterMetadata[TRANSPORT_SOCKET_MATCH_KEY] = struct({ tlsMode: 'istio' });
  return { filterMetadata };
}

interface Entry extends EndpointEntry {
  /** What entries are sorted by: the address, with the port zero-padded. */
  sortKey: string;
  /** The namespace the metadata names when the endpoint names no workload. */
  serviceNamespace: string;
}

/**
 * Every cluster of a service port (the service-wide one, each subset's) of every workload sends an endpoint the
 * same way: built once per endpoint and port object, shared (translation output is never changed once built).
 */
const entries = new WeakMap<Endpoint, WeakMap<ServicePort, Entry>>();

function lbEndpoint(ep: Endpoint, service: MeshService, port: ServicePort): Entry {
  let byPort = entries.get(ep);
  if (!byPort) entries.set(ep, (byPort = new WeakMap()));
  const e = byPort.get(port);
  if (e?.serviceNamespace === service.namespace) return e;
  const fresh = newEntry(ep, service, port);
  if (!e) byPort.set(port, fresh);
  return fresh;
}

function newEntry(ep: Endpoint, service: MeshService, port: ServicePort): Entry {
  const weight = ep.weight && ep.weight > 0 ? ep.weight : 1;
  const portValue = endpointPort(ep, port);
  const address = envoyAddress(ep.address, portValue);
  return {
    lbEndpoint: {
      endpoint: { address },
      healthStatus: ep.health,
      metadata: endpointMetadata(ep, service),
      loadBalancingWeight: u32(weight),
    },
    labels: withTopologyLabels(ep.labels, ep.locality, ep.network),
    weight,
    serviceNamespace: service.namespace,
    sortKey: ep.address.startsWith('unix://') ? `unix:${ep.address.slice('unix://'.length)}` : `${ep.address}:${String(portValue).padStart(5, '0')}`,
  };
}

/** Endpoints of the plan's service port and subset, by locality (sorted), before locality settings apply. */
export function localityGroups(ctx: TranslateContext, plan: ClusterPlan): LocalityGroup[] {
  const want = subsetLabels(plan.subset);
  const byLocality = new Map<string, Entry[]>();
  for (const ep of ctx.snapshot.endpoints(plan.service, plan.port)) {
    if (!selectorMatches(want, ep.labels)) continue;
    const key = ep.locality ?? '';
    const group = byLocality.get(key);
    const entry = lbEndpoint(ep, plan.service, plan.port);
    if (group) group.push(entry);
    else byLocality.set(key, [entry]);
  }
  return [...byLocality.keys()].sort(compare).map((locality) => {
    const entries = byLocality.get(locality)!.sort((a, b) => compare(a.sortKey, b.sortKey));
    return { locality, entries, weight: entries.reduce((s, e) => s + e.weight, 0), priority: 0 };
  });
}

export function toLocalityLbEndpoints(groups: readonly LocalityGroup[]): EnvoyObject[] {
  return [...groups]
    .sort((a, b) => a.priority - b.priority || compare(a.locality, b.locality))
    .map((g) => {
      const out: EnvoyObject = {};
      const locality = envoyLocality(g.locality);
      if (locality) out.locality = locality;
      out.lbEndpoints = g.entries.map((e) => e.lbEndpoint);
      out.loadBalancingWeight = u32(g.weight);
      if (g.priority) out.priority = g.priority;
      return out;
    });
}

/** The plan's LocalityLbEndpoints with the locality LB setting of its policy applied for this client. */
export function planEndpoints(ctx: TranslateContext, plan: ClusterPlan, client: ClientView): EnvoyObject[] {
  const setting = localitySettingFor(plan.policy?.loadBalancer);
  const groups = applyLocalitySetting(localityGroups(ctx, plan), client, setting, plan.policy?.outlierDetection !== undefined);
  return toLocalityLbEndpoints(groups);
}
