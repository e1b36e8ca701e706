// Whether a namespace asks for sidecars, whether a pod has (or gets) one, and whether it is a gateway. The one rule shared by the snapshot
// (Endpoint.sidecar, Workload.injected) and the injecting webhook, so both always agree.
import { annotationsOf, list, record } from './kube.ts';
import type { KubeObject, Labels } from './types.ts';

export const INJECTION_LABEL = 'weft-injection';
/** Accepted too, so namespaces prepared for Istio need no change. */
export const ISTIO_INJECTION_LABEL = 'istio-injection';
export const INJECT_ANNOTATION = 'sidecar.weft.dev/inject';
export const PROXY_CONTAINER = 'weft-proxy';
/** Pod (template) annotation that makes the pod a gateway: the weft proxy is its main container, no sidecar. */
export const PROXY_MODE_ANNOTATION = 'weft.dev/proxy-mode';
export const GATEWAY_MODE = 'gateway';

export function namespaceInjected(namespaceLabels: Labels | undefined): boolean {
  return namespaceLabels?.[INJECTION_LABEL] === 'enabled' || namespaceLabels?.[ISTIO_INJECTION_LABEL] === 'enabled';
}

/** A container (or native-sidecar init container) named weft-proxy: the pod was injected already. */
export function podHasProxyContainer(pod: KubeObject): boolean {
  const spec = record(pod.spec);
  return [...list(spec.containers), ...list(spec.initContainers)].some((c) => record(c).name === PROXY_CONTAINER);
}

/** The pod is a gateway (`weft.dev/proxy-mode: gateway`), in whatever namespace: the proxy is the workload. */
export function podIsGateway(pod: KubeObject): boolean {
  return annotationsOf(pod)[PROXY_MODE_ANNOTATION] === GATEWAY_MODE;
}

/** The pod runs a weft sidecar: its namespace is injected and the pod did not opt out, or the proxy is there. */
export function podHasSidecar(pod: KubeObject, namespaceLabels: Labels | undefined): boolean {
  if (podHasProxyContainer(pod)) return true;
  return namespaceInjected(namespaceLabels) && annotationsOf(pod)[INJECT_ANNOTATION] !== 'false';
}
