// The CORS filter's stage (envoy.extensions.filters.http.cors.v3.Cors). In: the route's CorsPolicy
// (ClusterAction.cors); out: a preflight from an allowed origin answered by the proxy (as is, even for gRPC
// requests), or the CORS response headers of an actual request added to whatever answer it gets.
import { corsDecision } from '../cors.ts';
import { gatedByRoute } from './gate.ts';
import type { Stage, StageFactory } from './types.ts';

const corsStage: Stage = (req, next) => {
  const action = req.route.action;
  if (action.kind !== 'cluster' || !action.cors) {
    next();
    return;
  }
  const r = req.request;
  const h = r.headers;
  const d = corsDecision(action.cors, r.method, h.get('origin')?.[0], h.get('access-control-request-method')?.[0], req.runtime.random());
  if (d.kind === 'preflight') {
    req.reply({ status: 200, headers: d.headers }, [], 'cors_response', true);
    return;
  }
  if (d.kind === 'actual') Object.assign(req.responseHeaders, d.headers);
  next();
};

const gated = gatedByRoute(corsStage, (r) => {
  const action = r.action;
  return action.kind === 'cluster' && action.cors !== undefined;
});

export const corsFilter: StageFactory = () => gated;
