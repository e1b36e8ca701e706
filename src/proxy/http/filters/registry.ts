// Which Stage carries out which HTTP filter: the filter's typed_config type (its `@type` without the
// `type.googleapis.com/` prefix) → its StageFactory. A filter type missing here is not carried out: the chain
// builder refuses such a config (a proxy never silently skips a filter it was given). The router is not listed:
// it always ends the chain.
import { JWT_AUTHN_TYPE, jwtAuthnFactory } from './jwt-authn.ts';
import type { StageFactory } from './types.ts';

export const STAGES: ReadonlyMap<string, StageFactory> = new Map<string, StageFactory>([
  // Each filter module adds its own line here.
  [JWT_AUTHN_TYPE, jwtAuthnFactory],
]);
