// A cluster's transport socket → how to connect: plaintext, or TLS with the UpstreamTlsContext's SNI, ALPN,
// trust (a CA file, the system roots, or none when validation is off), client certificate (MUTUAL, and
// ISTIO_MUTUAL's workload identity files), the same by SDS name (a credentialName's `<name>` and `<name>-cacert`,
// config/credentials.ts), and SAN matchers. Certificate files are read through the FileSource at connect time
// and turned into a secure context only when their content changed, so an identity or credential rotation
// reaches the next connection without tearing pools down. The SAN check runs in checkServerIdentity.
import type { PeerCertificate, SecureContext } from 'node:tls';
import { createSecureContext } from 'node:tls';
import { sdsCaFiles, sdsSecretFiles } from '../config/credentials.ts';
import type { FileSource } from '../runtime.ts';
import { anyType, arr, has, obj, str, strs } from '../routing/envoy-values.ts';
import { compileStringMatcher } from '../routing/string-matcher.ts';
import type { StringPredicate } from '../routing/string-matcher.ts';

const TLS_CONTEXT = 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const PROXY_PROTOCOL = 'envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport';

type SanType = 'DNS' | 'URI' | 'EMAIL' | 'IP_ADDRESS' | 'ANY';
const SAN_TYPES: SanType[] = ['ANY', 'EMAIL', 'DNS', 'URI', 'IP_ADDRESS'];

interface SanMatcher {
  type: SanType;
  match: StringPredicate;
}

export type TransportSpec =
  | { kind: 'plaintext'; key: string }
  | {
    kind: 'tls';
    /** Canonical form: pools compare it to decide whether a host's connections can be kept. */
    key: string;
    sni?: string;
    alpn: string[];
    trust: { kind: 'file'; path: string } | { kind: 'system' } | { kind: 'none' };
    clientCert?: { chain: string; key: string };
    sans: SanMatcher[];
    minVersion?: 'TLSv1.2' | 'TLSv1.3';
    maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  };

const PLAINTEXT: TransportSpec = { kind: 'plaintext', key: 'plaintext' };

function tlsVersion(v: unknown): 'TLSv1.2' | 'TLSv1.3' | undefined {
  const s = str(v);
  return s === 'TLSv1_3' || v === 4 ? 'TLSv1.3' : s === 'TLSv1_2' || v === 3 ? 'TLSv1.2' : undefined;
}

/** Reads envoy.config.core.v3.TransportSocket (a PROXY protocol wrapper is looked through). */
export function transportSpec(socket: unknown): TransportSpec {
  let tc = obj(obj(socket).typedConfig);
  if (anyType(tc) === PROXY_PROTOCOL) tc = obj(obj(tc.transportSocket).typedConfig);
  if (anyType(tc) !== TLS_CONTEXT) return PLAINTEXT;
  const common = obj(tc.commonTlsContext);
  const combined = has(common, 'combinedValidationContext') ? obj(common.combinedValidationContext) : undefined;
  // A CA by SDS name (a DestinationRule's credentialName: `<name>-cacert`), alone or beside a default context.
  const sdsCa = sdsCaFiles(str(obj(combined?.validationContextSdsSecretConfig ?? common.validationContextSdsSecretConfig).name))?.[0];
  const validation = has(common, 'validationContext') ? obj(common.validationContext)
    : combined ? obj(combined.defaultValidationContext) : sdsCa ? {} : undefined;
  const caPath = str(obj(validation?.trustedCa).filename) || sdsCa;
  const trust: Extract<TransportSpec, { kind: 'tls' }>['trust'] = !validation ? { kind: 'none' }
    : caPath ? { kind: 'file', path: caPath } : { kind: 'system' };
  const cert = arr(common.tlsCertificates)[0];
  const sdsCert = sdsSecretFiles(str(arr(common.tlsCertificateSdsSecretConfigs)[0]?.name));
  const fromSds = sdsCert && 'chain' in sdsCert ? sdsCert : undefined;
  const chain = str(obj(cert?.certificateChain).filename) || (fromSds?.chain ?? '');
  const keyFile = str(obj(cert?.privateKey).filename) || (fromSds?.key ?? '');
  const sans: SanMatcher[] = [
    ...arr(validation?.matchSubjectAltNames).map((m) => ({ type: 'ANY' as const, match: compileStringMatcher(m) })),
    ...arr(validation?.matchTypedSubjectAltNames).map((m) => ({
      type: typeof m.sanType === 'number' ? SAN_TYPES[m.sanType] ?? 'ANY' : (str(m.sanType) as SanType) || 'ANY',
      match: compileStringMatcher(m.matcher),
    })),
  ];
  const params = obj(common.tlsParams);
  const sni = str(tc.sni);
  const spec: TransportSpec = {
    kind: 'tls',
    key: JSON.stringify(tc),
    alpn: strs(common.alpnProtocols),
    trust,
    sans,
  };
  if (sni) spec.sni = sni;
  if (chain && keyFile) spec.clientCert = { chain, key: keyFile };
  const min = tlsVersion(params.tlsMinimumProtocolVersion);
  const max = tlsVersion(params.tlsMaximumProtocolVersion);
  if (min) spec.minVersion = min;
  if (max) spec.maxVersion = max;
  return spec;
}

/** Parses Node's `subjectaltname` ("DNS:a, URI:spiffe://…, IP Address:1.2.3.4") into typed entries. */
export function subjectAltNames(cert: PeerCertificate | undefined): Array<{ type: SanType; value: string }> {
  const out: Array<{ type: SanType; value: string }> = [];
  for (const part of (cert?.subjectaltname ?? '').split(', ')) {
    const i = part.indexOf(':');
    if (i < 0) continue;
    const kind = part.slice(0, i);
    const value = part.slice(i + 1);
    const type: SanType | undefined = kind === 'DNS' ? 'DNS' : kind === 'URI' ? 'URI' : kind === 'email' ? 'EMAIL'
      : kind === 'IP Address' ? 'IP_ADDRESS' : undefined;
    if (type) out.push({ type, value });
  }
  return out;
}

export function uriSan(cert: PeerCertificate | undefined): string | undefined {
  return subjectAltNames(cert).find((s) => s.type === 'URI')?.value;
}

/** The SAN check: any matcher matching any SAN of its type passes; no matchers means no name check (the chain is
 * still verified against the trust). */
export function checkSans(matchers: readonly SanMatcher[], cert: PeerCertificate): Error | undefined {
  if (matchers.length === 0) return undefined;
  const sans = subjectAltNames(cert);
  for (const m of matchers) {
    for (const s of sans) {
      if ((m.type === 'ANY' || m.type === s.type) && m.match(s.value)) return undefined;
    }
  }
  const seen = sans.map((s) => s.value).join(', ') || 'none';
  const err = new Error(`upstream certificate SANs (${seen}) match none of the configured subject alt names`);
  (err as Error & { code: string }).code = 'ERR_TLS_CERT_ALTNAME_INVALID';
  return err;
}

/** Secure contexts per spec, rebuilt only when a file's content changed (identity rotation). */
export function createContextCache(): (spec: Extract<TransportSpec, { kind: 'tls' }>, files: FileSource) => SecureContext {
  let last: { ca?: string; cert?: string; key?: string; spec: string; context: SecureContext } | undefined;
  return (spec, files) => {
    const ca = spec.trust.kind === 'file' ? files.read(spec.trust.path) : undefined;
    const cert = spec.clientCert ? files.read(spec.clientCert.chain) : undefined;
    const key = spec.clientCert ? files.read(spec.clientCert.key) : undefined;
    if (last && last.ca === ca && last.cert === cert && last.key === key && last.spec === spec.key) return last.context;
    if (spec.trust.kind === 'file' && !ca) throw new Error(`upstream TLS: trusted CA ${spec.trust.path} is not available`);
    if (spec.clientCert && (!cert || !key)) throw new Error(`upstream TLS: client certificate ${spec.clientCert.chain} is not available`);
    const context = createSecureContext({
      ...(ca ? { ca } : {}),
      ...(cert && key ? { cert, key } : {}),
      ...(spec.minVersion ? { minVersion: spec.minVersion } : {}),
      ...(spec.maxVersion ? { maxVersion: spec.maxVersion } : {}),
    });
    last = { ca, cert, key, spec: spec.key, context };
    return context;
  };
}
