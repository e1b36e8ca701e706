// The routing core of the sidecar: Envoy's listener, filter chain, virtual host and route selection over a
// ProxyConfig. `simulate` runs it on a request description (tests and weftctl); the proxy uses the engine.
export { simulate } from './simulate.ts';
export { compileProxy, planConnection, pickListener } from './engine.ts';
export type { CompiledProxy, ConnectionInfo, ConnectionPlan, RouteResult } from './engine.ts';
export { compileRouteTable } from './route-table.ts';
export { globalReplace, compileRegex } from './regex.ts';
export type * from './types.ts';
