// Mutating admission for pods: AdmissionReview v1 request + the namespace's labels in -> AdmissionReview response
// out, carrying the injection as a base64 JSONPatch. No I/O; server.ts looks the labels up and writes the answer.
// Every answer allows the pod: injection adds to a pod, it never refuses one.
import type { KubeObject, Labels } from '../model/types.ts';
import type { AdmissionRequest, AdmissionResponse, AdmissionReview } from './admission.ts';
import { injectPod } from './inject.ts';
import type { InjectOptions } from './inject-options.ts';

export interface MutatingResponse extends AdmissionResponse {
  patchType?: 'JSONPatch';
  /** base64 of the JSON array of operations. */
  patch?: string;
}

export function injectReview(req: AdmissionRequest, namespaceLabels: Labels | undefined, opts: InjectOptions = {}): AdmissionReview & { response: MutatingResponse } {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: injectResponse(req, namespaceLabels, opts) };
}

export function injectResponse(req: AdmissionRequest, namespaceLabels: Labels | undefined, opts: InjectOptions = {}): MutatingResponse {
  const allow: MutatingResponse = { uid: req.uid, allowed: true };
  const isPod = req.kind?.kind === 'Pod' && (req.kind.group ?? '') === '';
  if (!isPod || req.operation !== 'CREATE' || !req.object) return allow;
  // The submitted pod often has no namespace of its own; the request always names it.
  const submitted = req.object as KubeObject;
  const pod: KubeObject = { ...submitted, metadata: { ...submitted.metadata, namespace: submitted.metadata?.namespace ?? req.namespace } };
  const result = injectPod(pod, namespaceLabels, opts);
  const out: MutatingResponse = result.warnings.length > 0 ? { ...allow, warnings: result.warnings } : allow;
  if (result.action === 'skip') return out;
  return { ...out, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(result.patch), 'utf8').toString('base64') };
}
