// The sidecar's HTTP side: createHttpHandler (runtime.ts HttpHandler) and its pure parts, exported for tests
// and other parts of the proxy (trace propagation, retry decisions, CORS).
export { createHttpHandler } from './handler.ts';
export type { HttpHandlerOptions } from './handler.ts';
export { propagateTrace, parseTraceparent } from './trace.ts';
export type { TraceIds } from './trace.ts';
export { backoffMs, retriableFailure, retriableResponse } from './retry-policy.ts';
export { corsDecision } from './cors.ts';
export { hashKey } from './hash-key.ts';
