// Which Stage carries out which HTTP filter: the filter's typed_config type (its `@type` without the
// `type.googleapis.com/` prefix) → its StageFactory. A filter type missing here is not carried out: the chain
// builder refuses such a config (a proxy never silently skips a filter it was given). The router is not listed:
// it always ends the chain.
import { corsFilter } from './cors.ts';
import { EXT_AUTHZ_TYPE, extAuthzFactory } from './ext-authz.ts';
import { faultFilter } from './fault.ts';
import { grpcWebFilter } from './grpc-web.ts';
import { ISTIO_AUTHN_TYPE, istioAuthnFactory } from './istio-authn.ts';
import { JWT_AUTHN_TYPE, jwtAuthnFactory } from './jwt-authn.ts';
import { rbacFilter } from './rbac.ts';
import type { StageFactory } from './types.ts';

export const STAGES: ReadonlyMap<string, StageFactory> = new Map<string, StageFactory>([
  // Each filter module adds its own line here.
  ['envoy.extensions.filters.http.fault.v3.HTTPFault', faultFilter],
  ['envoy.extensions.filters.http.cors.v3.Cors', corsFilter],
  ['envoy.extensions.filters.http.grpc_web.v3.GrpcWeb', grpcWebFilter],
  ['envoy.extensions.filters.http.rbac.v3.RBAC', rbacFilter],
  [JWT_AUTHN_TYPE, jwtAuthnFactory],
  [ISTIO_AUTHN_TYPE, istioAuthnFactory],
  [EXT_AUTHZ_TYPE, extAuthzFactory],
]);
