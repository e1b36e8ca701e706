// Which pods and workloads are gateways: pods annotated `weft.dev/proxy-mode: gateway` run the weft proxy
// themselves (no sidecar is injected), in any namespace. In: a pod or a Workload. Out: a boolean.
// The model marks gateway workloads with `mode: 'gateway'`; the pod annotation is the same fact one level
// down, for the places that see pods (admission, identity, the operator's pod cache).
import { annotationsOf } from '../../model/kube.ts';
import type { KubeObject, Workload } from '../../model/types.ts';

export const PROXY_MODE_ANNOTATION = 'weft.dev/proxy-mode';
export const GATEWAY_MODE = 'gateway';

export function podIsGateway(pod: KubeObject | { metadata?: unknown } | undefined): boolean {
  return annotationsOf(pod)[PROXY_MODE_ANNOTATION] === GATEWAY_MODE;
}

/** The workload's own mark, when the model gives one. */
export function workloadMode(w: Workload): string | undefined {
  const mode = (w as Workload & { mode?: unknown }).mode;
  return typeof mode === 'string' ? mode : undefined;
}
