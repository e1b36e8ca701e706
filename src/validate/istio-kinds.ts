// Istio's API kinds that weft does not carry out. In: a document's apiVersion and kind (or nothing, for the table).
// Out: whether Istio owns the group (`*.istio.io`), and for the kinds Istio ships that weft lacks, their CRD
// names, so that `weftctl validate` can say "not supported by weft" and the operator can find such objects on a
// cluster. The kinds weft serves are in src/api/kinds.ts (generated from crds/).
import { MESH_KINDS } from '../api/kinds.ts';

export interface IstioKind {
  group: string;
  kind: string;
  plural: string;
  /** Versions Istio serves, newest first. */
  versions: readonly string[];
}

/** Istio's kinds (crd-all.gen.yaml) that weft does not implement. */
export const UNSUPPORTED_ISTIO_KINDS: readonly IstioKind[] = [
  { group: 'networking.istio.io', kind: 'EnvoyFilter', plural: 'envoyfilters', versions: ['v1alpha3'] },
  { group: 'networking.istio.io', kind: 'Sidecar', plural: 'sidecars', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  { group: 'networking.istio.io', kind: 'ProxyConfig', plural: 'proxyconfigs', versions: ['v1beta1'] },
  { group: 'networking.istio.io', kind: 'WorkloadGroup', plural: 'workloadgroups', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  { group: 'telemetry.istio.io', kind: 'Telemetry', plural: 'telemetries', versions: ['v1', 'v1alpha1'] },
  { group: 'extensions.istio.io', kind: 'WasmPlugin', plural: 'wasmplugins', versions: ['v1alpha1'] },
].filter((k) => !MESH_KINDS.some((m) => m.group === k.group && m.kind === k.kind));

/** Istio's API groups: networking.istio.io, security.istio.io, telemetry.istio.io, extensions.istio.io… */
export function isIstioGroup(group: string): boolean {
  return group === 'istio.io' || group.endsWith('.istio.io');
}

/**
 * For a document of an Istio API group whose kind weft does not serve, the line that says so; undefined for
 * weft's own kinds and for anything outside Istio's groups.
 */
export function unsupportedIstioKind(apiVersion: string, kind: string): string | undefined {
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  if (!isIstioGroup(group) || MESH_KINDS.some((k) => k.group === group && k.kind === kind)) return undefined;
  const known = UNSUPPORTED_ISTIO_KINDS.some((k) => k.group === group && k.kind === kind);
  const what = known ? `Istio's ${kind}` : `"${kind || '<no kind>'}" of Istio's API group ${group}`;
  return `${what} (${apiVersion}) is not supported by weft: weft neither validates nor carries it out`;
}
