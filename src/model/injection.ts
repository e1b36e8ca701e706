// Whether a namespace asks for sidecars and whether a pod has (or gets) one. The one rule shared by the snapshot
// (Endpoint.sidecar, Workload.injected) and the injecting webhook, so both always agree.
import { annotationsOf, list, record } from './kube.ts';
import type { KubeObject, Labels } from './types.ts';

export const INJECTION_LABEL = 'weft-injection';
/** Accepted too, so namespaces prepared for Istio need no change. */
export const ISTIO_INJECTION_LABEL = 'istio-injection';
export const INJECT_ANNOTATION = 'sidecar.weft.dev/inject';
export const PROXY_CONTAINER = 'weft-proxy';

export function namespaceInjected(namespaceLabels: Labels | undefined): boolean {
  return namespaceLabels?.[INJECTION_LABEL] === 'enabled' || namespaceLabels?.[ISTIO_INJECTION_LABEL] === 'enabled';
}

/** A container (or native-sidecar init container) named weft-proxy: the pod was injected already. */
export function podHasProxyContainer(pod: KubeObject): boolean {
  const spec = record(pod.spec);
  return [...list(spec.containers), ...list(spec.initContainers)].some((c) => record(c).name === PROXY_CONTAINER);
}

/** The pod runs a weft sidecar: its namespace is injected and the pod did not opt out, or the proxy is there. */
export function podHasSidecar(pod: KubeObject, namespaceLabels: Labels | undefined): boolean {
  if (podHasProxyContainer(pod)) return true;
  return namespaceInjected(namespaceLabels) && annotationsOf(pod)[INJECT_ANNOTATION] !== 'false';
}
