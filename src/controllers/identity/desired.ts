// Which identities the mesh needs, from the caches. In: pods and namespace labels. Out: the service accounts of
// pods that run a sidecar or are gateway proxies (per namespace) and the namespaces that get the trust bundle.
// Pure: plain objects in, sets out, the same rule as the injecting webhook (src/model/injection.ts); gateways
// (weft.dev/proxy-mode: gateway, any namespace) need the identity for ISTIO_MUTUAL servers and mTLS to backends.
import type { KubernetesObject } from '@kubernetes/client-node';
import { namespaceInjected, podHasSidecar } from '../../model/injection.ts';
import { podIsGateway } from '../gateway/mode.ts';
import type { KubeObject, Labels } from '../../model/types.ts';

export const IDENTITY_SECRET_PREFIX = 'weft-identity-';
export const ROOT_CERT_CONFIGMAP = 'weft-root-cert';
/** Labels every identity Secret, so the controller watches only its own Secrets. */
export const IDENTITY_LABEL = 'weft.dev/identity';
/** On pods mounting an identity Secret / the trust bundle: a digest of what was written last, set so the kubelet
 * remounts the volume now (../pod-nudge.ts). */
export const IDENTITY_HASH_ANNOTATION = 'weft.dev/identity-hash';
export const ROOT_CERT_HASH_ANNOTATION = 'weft.dev/root-cert-hash';

export const identitySecretName = (serviceAccount: string): string => `${IDENTITY_SECRET_PREFIX}${serviceAccount}`;

type Pod = KubernetesObject & { spec?: { serviceAccountName?: string }; status?: { phase?: string } };

export function podServiceAccount(pod: Pod): string {
  return pod.spec?.serviceAccountName || 'default';
}

/** A pod that still runs (or will) with a sidecar, or a gateway proxy: it needs its service account's identity. */
export function podNeedsIdentity(pod: Pod, nsLabels: Labels | undefined): boolean {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  return podIsGateway(pod) || podHasSidecar(pod as unknown as KubeObject, nsLabels);
}

/** Service accounts (by name) that pods of `ns` with sidecars use. */
export function neededServiceAccounts(pods: readonly Pod[], nsLabels: Labels | undefined): Set<string> {
  const out = new Set<string>();
  for (const p of pods) if (podNeedsIdentity(p, nsLabels)) out.add(podServiceAccount(p));
  return out;
}

/** The namespace gets the trust bundle: it is labelled for injection or holds a pod with a sidecar. */
export function namespaceNeedsBundle(pods: readonly Pod[], nsLabels: Labels | undefined): boolean {
  return namespaceInjected(nsLabels) || pods.some((p) => podNeedsIdentity(p, nsLabels));
}
