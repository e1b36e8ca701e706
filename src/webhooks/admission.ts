// Validating admission: AdmissionReview v1 request in -> AdmissionReview v1 response out. No I/O; the HTTPS
// server (server.ts) decodes the body and writes back what this returns.
// Denials list every error as `<field>: <message>` lines; warnings travel as AdmissionResponse.warnings, which
// kubectl prints as "Warning: ..." lines.
import { canonicalJson } from '../validate/common.ts';
import { formatFinding } from '../validate/result.ts';
import { validateResource, withNamespace } from '../validate/index.ts';
import type { ResourceLike, ValidateOptions } from '../validate/index.ts';

export interface AdmissionRequest {
  uid: string;
  kind?: { group: string; version: string; kind: string };
  operation?: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  namespace?: string;
  name?: string;
  object?: ResourceLike | null;
  oldObject?: ResourceLike | null;
  dryRun?: boolean;
}

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  warnings?: string[];
}

/** The API server shows at most this much per warning; longer ones are truncated there anyway. */
const MAX_WARNING = 256;

/** The request of an AdmissionReview v1; throws on any other body (the server answers 400). */
export function requestOf(body: unknown): AdmissionRequest {
  const review = body as AdmissionReview | null;
  const req = review?.request;
  if (review?.apiVersion !== 'admission.k8s.io/v1' || review.kind !== 'AdmissionReview' || !req || typeof req.uid !== 'string') {
    throw new Error('expected an admission.k8s.io/v1 AdmissionReview with a request');
  }
  return req;
}

/** Throws on a body that is not an AdmissionReview v1 request (the server answers 400). */
export function review(body: unknown, opts: ValidateOptions = {}): AdmissionReview {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: admit(requestOf(body), opts) };
}

export function admit(req: AdmissionRequest, opts: ValidateOptions = {}): AdmissionResponse {
  const allow: AdmissionResponse = { uid: req.uid, allowed: true };
  // Deleting must always work, or a resource that became invalid under newer rules could never be removed.
  if (req.operation === 'DELETE' || req.operation === 'CONNECT' || !req.object) return allow;
  // The request carries the namespace even when the submitted object omits it.
  const obj = withNamespace(req.object, req.namespace);
  // An update that leaves the spec alone (labels, finalizers, status via the main resource) is allowed even if
  // the stored spec no longer passes: otherwise stricter rules would wedge finalizer removal and relabelling.
  if (req.operation === 'UPDATE' && req.oldObject && sameSpec(req.object, req.oldObject)) return allow;

  let result;
  try {
    result = validateResource(obj, opts);
  } catch (e) {
    // A validator bug must not take the API down with it, but neither may it wave the object through.
    return deny(req.uid, [`internal error while validating: ${(e as Error).message}`], []);
  }
  const warnings = result.warnings.map((w) => truncate(formatFinding(w)));
  if (result.errors.length > 0) return deny(req.uid, result.errors.map(formatFinding), warnings);
  return warnings.length > 0 ? { ...allow, warnings } : allow;
}

function deny(uid: string, lines: string[], warnings: string[]): AdmissionResponse {
  const res: AdmissionResponse = { uid, allowed: false, status: { code: 400, reason: 'Invalid', message: lines.join('\n') } };
  if (warnings.length > 0) res.warnings = warnings;
  return res;
}

function sameSpec(a: ResourceLike, b: ResourceLike): boolean {
  return canonicalJson(a.spec ?? null) === canonicalJson(b.spec ?? null);
}

function truncate(s: string): string {
  return s.length <= MAX_WARNING ? s : `${s.slice(0, MAX_WARNING - 3)}...`;
}
