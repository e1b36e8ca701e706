// Kubernetes Services and ServiceEntries → MeshService records (one per Service, one per ServiceEntry host),
// with what endpoint building needs besides the public value (ExternalName target, the source object).
import type { ServiceEntry } from '../api/index.ts';
import { kubernetesHostname } from './hosts.ts';
import { annotationsOf, compare, creationOf, labelsOf, list, nameOf, namespaceOf, num, record, str, stringList, stringMap } from './kube.ts';
import { kubernetesPortProtocol, parseProtocol } from './protocol.ts';
import type { KubeObject, Labels, MeshService, Resolution, ServicePort } from './types.ts';
import { parseExportAnnotation, parseExportTo, SERVICE_EXPORT_ANNOTATION } from './visibility.ts';

export type ServiceSource =
  | { kind: 'Service'; object: KubeObject; externalName?: string }
  | { kind: 'ServiceEntry'; object: ServiceEntry };

export interface ServiceRecord {
  service: MeshService;
  /** creationTimestamp of the source object: older wins among services sharing a host. */
  created: string;
  source: ServiceSource;
}

/** The identity of a MeshService within a snapshot (a ServiceEntry yields one per host). */
export function serviceKey(s: Pick<MeshService, 'origin' | 'namespace' | 'name' | 'hostname'>): string {
  return `${s.origin}/${s.namespace}/${s.name}/${s.hostname}`;
}

const nonEmpty = (m: Labels): Labels | undefined => (Object.keys(m).length > 0 ? m : undefined);

export function kubernetesService(svc: KubeObject, clusterDomain: string): ServiceRecord | undefined {
  const name = nameOf(svc);
  const namespace = namespaceOf(svc);
  if (name === '' || namespace === '') return undefined;
  const spec = record(svc.spec);
  const ips = stringList(spec.clusterIPs);
  const clusterIP = str(spec.clusterIP);
  const addresses = (ips.length > 0 ? ips : clusterIP !== undefined ? [clusterIP] : []).filter((a) => a !== '' && a !== 'None');
  const externalName = spec.type === 'ExternalName' ? str(spec.externalName) || undefined : undefined;
  // ExternalName services resolve their target by DNS and are outside the mesh (no mTLS to them).
  const resolution: Resolution = externalName !== undefined ? 'DNS' : addresses.length === 0 ? 'NONE' : 'EDS';
  const ports: ServicePort[] = [];
  for (const p of list(spec.ports)) {
    const port = record(p);
    const number = num(port.port);
    if (number === undefined) continue;
    const targetPort = num(port.targetPort) ?? str(port.targetPort);
    const pname = str(port.name) ?? '';
    const protocol = kubernetesPortProtocol({ name: pname, protocol: str(port.protocol), appProtocol: str(port.appProtocol) });
    ports.push(targetPort === undefined ? { name: pname, port: number, protocol } : { name: pname, port: number, targetPort, protocol });
  }
  const selector = nonEmpty(stringMap(spec.selector));
  const service: MeshService = {
    hostname: kubernetesHostname(name, namespace, clusterDomain),
    name,
    namespace,
    origin: 'Kubernetes',
    addresses: externalName !== undefined ? [] : addresses,
    ports: ports.sort((a, b) => a.port - b.port || compare(a.name, b.name)),
    labels: labelsOf(svc),
    ...(selector !== undefined && externalName === undefined ? { selector } : {}),
    location: externalName !== undefined ? 'MESH_EXTERNAL' : 'MESH_INTERNAL',
    resolution,
    exportTo: parseExportAnnotation(annotationsOf(svc)[SERVICE_EXPORT_ANNOTATION], namespace),
    subjectAltNames: [],
  };
  return { service, created: creationOf(svc), source: { kind: 'Service', object: svc, ...(externalName !== undefined ? { externalName } : {}) } };
}

const RESOLUTIONS: ReadonlySet<string> = new Set(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS']);

/** One record per host, hosts taken as written (Istio does not complete short ServiceEntry hosts). */
export function serviceEntryServices(se: ServiceEntry): ServiceRecord[] {
  const name = nameOf(se);
  const namespace = namespaceOf(se);
  const spec = record(se.spec);
  if (name === '' || namespace === '') return [];
  const ports: ServicePort[] = [];
  for (const p of list(spec.ports)) {
    const port = record(p);
    const number = num(port.number);
    if (number === undefined) continue;
    const targetPort = num(port.targetPort);
    const protocol = parseProtocol(str(port.protocol));
    const pname = str(port.name) ?? '';
    ports.push(targetPort === undefined ? { name: pname, port: number, protocol } : { name: pname, port: number, targetPort, protocol });
  }
  ports.sort((a, b) => a.port - b.port || compare(a.name, b.name));
  const resolution = str(spec.resolution);
  const ws = record(spec.workloadSelector);
  const hasSelector = spec.workloadSelector !== undefined && spec.workloadSelector !== null;
  const base = {
    name,
    namespace,
    origin: 'ServiceEntry' as const,
    addresses: [...new Set(stringList(spec.addresses))].sort(),
    ports,
    labels: labelsOf(se),
    // Istio's defaults: the enum's zero values, MESH_EXTERNAL and NONE.
    location: spec.location === 'MESH_INTERNAL' ? ('MESH_INTERNAL' as const) : ('MESH_EXTERNAL' as const),
    resolution: (resolution !== undefined && RESOLUTIONS.has(resolution) ? resolution : 'NONE') as Resolution,
    exportTo: parseExportTo(stringList(spec.exportTo), namespace),
    subjectAltNames: [...stringList(spec.subjectAltNames)].sort(),
  };
  const created = creationOf(se);
  return [...new Set(stringList(spec.hosts))].map((hostname) => ({
    service: { hostname, ...base, ...(hasSelector ? { selector: stringMap(ws.labels) } : {}) },
    created,
    source: { kind: 'ServiceEntry', object: se },
  }));
}
