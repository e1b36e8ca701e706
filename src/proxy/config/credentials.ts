// Gateway credentials: the Secret the operator writes for a gateway workload (`weft-gateway-credentials-<name>`),
// mounted as a directory of flat keys `<X>.tls.crt`, `<X>.tls.key`, `<X>.ca.crt` for each credentialName X. In:
// the directory's files (atomic-writer snapshots). Out: a Credentials value per version and the mapping from the
// SDS names TLS contexts use (`kubernetes://X`, `kubernetes://X-cacert`; Istio's `default`/`ROOTCA` for the
// workload identity) to the files that hold them.
// Config paths under CREDENTIALS_DIR resolve to the live version, whatever `--credentials-dir` is.
import { ROOT_CERT, WORKLOAD_CERT_CHAIN, WORKLOAD_KEY } from '../../translate/identity-files.ts';

/** Where gateway pods mount their credentials Secret (`weft proxy --credentials-dir` default). */
export const CREDENTIALS_DIR = '/etc/weft/credentials';

/** SDS names of Kubernetes Secrets, as Istio writes them for a Gateway's credentialName. */
const SDS_PREFIX = 'kubernetes://';
/** A validation context of credential X is named `kubernetes://X-cacert`. */
const CA_SUFFIX = '-cacert';

/** One version of the credentials directory. A new object per version: caches key on it. */
export interface Credentials {
  stamp: string;
  files: ReadonlyMap<string, string>;
}

export function credentialsOf(stamp: string, files: ReadonlyMap<string, Buffer>): Credentials {
  const text = new Map<string, string>();
  for (const [name, content] of files) text.set(name, content.toString('utf8'));
  return { stamp, files: text };
}

/** The credential names (X) present in a version, for the log. */
export function credentialNames(c: Credentials): string[] {
  const names = new Set<string>();
  for (const f of c.files.keys()) {
    const m = /^(.+)\.(?:tls\.crt|tls\.key|ca\.crt)$/.exec(f);
    if (m) names.add(m[1]!);
  }
  return [...names].sort();
}

/** The files an SDS secret name stands for: the workload identity for Istio's `default` and `ROOTCA`, a
 * credential for `kubernetes://X` (a bare `X` too: a Secret name) and its CA for `kubernetes://X-cacert`. */
export function sdsSecretFiles(name: string): { chain: string; key: string } | { ca: string[] } | undefined {
  if (name === 'default') return { chain: WORKLOAD_CERT_CHAIN, key: WORKLOAD_KEY };
  if (name === 'ROOTCA') return { ca: [ROOT_CERT] };
  const x = name.startsWith(SDS_PREFIX) ? name.slice(SDS_PREFIX.length) : name.includes('://') ? '' : name;
  if (!x || x.includes('/')) return undefined;
  if (x.endsWith(CA_SUFFIX) && x.length > CA_SUFFIX.length) {
    const base = x.slice(0, -CA_SUFFIX.length);
    // The operator flattens a separate `<X>-cacert` Secret into `<X>.ca.crt`; `<X>-cacert.ca.crt` is accepted too.
    return { ca: [`${CREDENTIALS_DIR}/${base}.ca.crt`, `${CREDENTIALS_DIR}/${x}.ca.crt`] };
  }
  return { chain: `${CREDENTIALS_DIR}/${x}.tls.crt`, key: `${CREDENTIALS_DIR}/${x}.tls.key` };
}

/** The CA files of an SDS name used as a validation context (`kubernetes://X` alone: `X.ca.crt`). */
export function sdsCaFiles(name: string): string[] | undefined {
  const p = name === 'default' ? undefined : sdsSecretFiles(name);
  if (!p) return undefined;
  return 'ca' in p ? p.ca : [p.chain.replace(/\.tls\.crt$/, '.ca.crt')];
}
