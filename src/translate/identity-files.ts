// Where the sidecar finds the workload's identity: the Secret `weft-identity-<serviceaccount>` (cert-chain.pem,
// key.pem, root-cert.pem) is mounted at one fixed directory. Upstream mTLS contexts point at these files.
export const IDENTITY_DIR = '/etc/weft/identity';
export const WORKLOAD_CERT_CHAIN = `${IDENTITY_DIR}/cert-chain.pem`;
export const WORKLOAD_KEY = `${IDENTITY_DIR}/key.pem`;
export const ROOT_CERT = `${IDENTITY_DIR}/root-cert.pem`;

/** `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>` */
export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}
