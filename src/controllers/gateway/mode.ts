// Which pods and workloads are gateways: pods annotated `weft.dev/proxy-mode: gateway` run the weft proxy
// themselves (no sidecar is injected), in any namespace. In: a pod or a Workload. Out: a boolean.
// The rule is the model's (src/model/injection.ts, Workload.mode); this takes the pod shapes the controllers and
// the webhook hold.
import { podIsGateway as modelPodIsGateway } from '../../model/injection.ts';
import type { KubeObject, Workload } from '../../model/types.ts';

export { GATEWAY_MODE, PROXY_MODE_ANNOTATION } from '../../model/injection.ts';

export function podIsGateway(pod: { metadata?: unknown } | undefined): boolean {
  return pod !== undefined && modelPodIsGateway(pod as KubeObject);
}

export const isGatewayWorkload = (w: Workload): boolean => w.mode === 'gateway';
