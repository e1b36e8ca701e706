// The grpc_web filter (envoy.extensions.filters.http.grpc_web.v3.GrpcWeb): accepted so that gRPC-Web ports'
// chains load, with no stage. The sidecar does not translate gRPC-Web to gRPC: requests pass through unchanged
// to an upstream that speaks gRPC-Web itself.
import type { StageFactory } from './types.ts';

export const grpcWebFilter: StageFactory = () => undefined;
