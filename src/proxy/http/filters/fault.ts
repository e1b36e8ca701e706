// The fault filter's stage (envoy.extensions.filters.http.fault.v3.HTTPFault). In: the route's fault summary
// (ClusterAction.fault, from the most specific typed_per_filter_config or the filter's own config, as the route
// action computed it); out: an injected delay (flag DI, then the rest of the chain) and/or an abort (flag FI,
// a local reply with the configured HTTP or gRPC status). Routes without a fault pass straight through.
import { faultDecision } from '../fault.ts';
import { gatedByRoute } from './gate.ts';
import type { FilterRequest, Stage, StageFactory } from './types.ts';

type Abort = { httpStatus: number; grpcStatus?: number } | undefined;

function abortOrNext(req: FilterRequest, next: () => void, abort: Abort): void {
  if (req.done) return;
  if (!abort) {
    next();
    return;
  }
  // A gRPC request aborted with an HTTP status gets the mapped grpc-status, as any local reply.
  req.reply({ status: abort.httpStatus, body: 'fault filter abort', ...(abort.grpcStatus !== undefined ? { grpcStatus: abort.grpcStatus } : {}) }, ['FI'], 'fault_filter_abort');
}

const faultStage: Stage = (req, next) => {
  const action = req.route.action;
  if (action.kind !== 'cluster' || !action.fault) {
    next();
    return;
  }
  const d = faultDecision(action.fault, req.request, req.runtime.random);
  if (d.delayMs !== undefined) {
    req.flag('DI');
    setTimeout(abortOrNext, d.delayMs, req, next, d.abort);
    return;
  }
  abortOrNext(req, next, d.abort);
};

const gated = gatedByRoute(faultStage, (r) => {
  const action = r.action;
  return action.kind === 'cluster' && action.fault !== undefined;
});

export const faultFilter: StageFactory = () => gated;
