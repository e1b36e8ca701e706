// The upstream side of the sidecar: clusters, hosts, load balancing, circuit breaking, outlier detection, pools
// and upstream TLS, behind the ClusterManager seam of runtime.ts.
export { createClusterManager } from './manager.ts';
export type { ClusterManagerDeps, WeftClusterManager } from './manager.ts';
export { UpstreamConnectError } from './connector.ts';
