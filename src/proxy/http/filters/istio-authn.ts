// weft's istio_authn filter (weft.v1.IstioAuthn, no settings). In: the payloads jwt_authn verified (dynamic
// metadata `envoy.filters.http.jwt_authn`, one per issuer); out: Istio's request.auth.* attributes in dynamic
// metadata `istio_authn`, from one payload — the first issuer in dictionary order, as Istio's authn filter picks
// when several tokens verified:
//   request.auth.principal  "<iss>/<sub>" (only when both are strings)
//   request.auth.audiences  aud as a list of strings
//   request.auth.presenter  azp
//   request.auth.claims     claim → list of strings (a string is a one-item list; space-delimited claims such as
//                           `scope` arrive as lists already, split by jwt_authn's normalize_payload_in_metadata),
//                           nested objects → nested structs of the same shape; numbers and booleans are left out
//   request.auth.raw_claims the payload as JSON
// Synchronous; without jwt_authn metadata it does nothing.
import type { Stage, StageFactory } from './types.ts';

export const ISTIO_AUTHN_TYPE = 'weft.v1.IstioAuthn';
export const ISTIO_AUTHN_METADATA = 'istio_authn';
const JWT_METADATA = 'envoy.filters.http.jwt_authn';

type Claims = { [claim: string]: string[] | Claims };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function claimsOf(payload: Record<string, unknown>): Claims {
  const out: Claims = {};
  for (const [k, v] of Object.entries(payload)) {
    if (typeof v === 'string') out[k] = [v];
    else if (Array.isArray(v)) {
      const list = v.filter((x): x is string => typeof x === 'string');
      if (list.length > 0) out[k] = list;
    } else if (isObject(v)) out[k] = claimsOf(v);
  }
  return out;
}

// A verified token's payload object is reused while its verification is cached: so are its attributes.
const derived = new WeakMap<object, Record<string, unknown>>();

/** The request.auth.* attributes of one verified payload. */
export function authAttributes(payload: Record<string, unknown>): Record<string, unknown> {
  let attrs = derived.get(payload);
  if (!attrs) derived.set(payload, (attrs = deriveAttributes(payload)));
  return attrs;
}

function deriveAttributes(payload: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const { iss, sub, aud, azp } = payload;
  if (typeof iss === 'string' && typeof sub === 'string') out['request.auth.principal'] = `${iss}/${sub}`;
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
  if (audiences.length > 0) out['request.auth.audiences'] = audiences;
  if (typeof azp === 'string') out['request.auth.presenter'] = azp;
  out['request.auth.claims'] = claimsOf(payload);
  out['request.auth.raw_claims'] = JSON.stringify(payload);
  return out;
}

/** The non-empty payload of the first issuer in dictionary order (no sorting: one pass over the keys). */
function firstPayload(verified: Record<string, unknown>): Record<string, unknown> | undefined {
  let best: string | undefined;
  for (const k in verified) {
    const v = verified[k];
    if (!isObject(v) || !nonEmpty(v)) continue;
    if (best === undefined || k < best) best = k;
  }
  return best === undefined ? undefined : verified[best] as Record<string, unknown>;
}

function nonEmpty(o: object): boolean {
  for (const k in o) return k !== undefined;
  return false;
}

export const istioAuthnStage: Stage = (req, next) => {
  const verified = req.metadata.get(JWT_METADATA);
  if (verified) {
    const first = firstPayload(verified);
    if (first !== undefined) {
      const attrs = authAttributes(first);
      const prev = req.metadata.get(ISTIO_AUTHN_METADATA);
      req.metadata.set(ISTIO_AUTHN_METADATA, prev ? { ...prev, ...attrs } : { ...attrs });
    }
  }
  next();
};

export const istioAuthnFactory: StageFactory = () => istioAuthnStage;
