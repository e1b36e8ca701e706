// The DownstreamTlsContext of a TLS-terminating gateway server (SIMPLE, MUTUAL, OPTIONAL_MUTUAL, ISTIO_MUTUAL):
//   - `credentialName: X`: certificate and key over SDS `kubernetes://X`; for client verification
//     `kubernetes://X-cacert` (the proxy reads them from the credentials directory the operator fills);
//   - file paths (`serverCertificate`, `privateKey`, `caCertificates`, or `tlsCertificates`): used as given;
//   - ISTIO_MUTUAL: exactly a sidecar inbound mTLS chain's context (the workload identity, the mesh root).
// Server TLS settings in, a transport socket out.
import { any, bool } from './envoy/values.ts';
import type { GatewayServerSpec } from './gateway-servers.ts';
import { tlsModeOf } from './gateway-servers.ts';
import { downstreamMtls } from './listeners-inbound.ts';
import type { EnvoyObject } from './types.ts';
import { TLS_TRANSPORT_SOCKET } from './upstream-tls.ts';

const DOWNSTREAM_TLS_CONTEXT = 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const SDS_PREFIX = 'kubernetes://';

/** ALPN a terminating HTTPS server offers (HTTP/2 first, as Istio gateways do). */
export const GATEWAY_HTTPS_ALPNS = ['h2', 'http/1.1'] as const;

/** The SDS name of a credential: `kubernetes://<name>` (a name written with the prefix is kept). */
export function credentialSdsName(credential: string): string {
  return credential.startsWith(SDS_PREFIX) ? credential : `${SDS_PREFIX}${credential}`;
}

/** The SDS name of a credential's CA certificates (client verification). */
export const caSdsName = (credential: string): string => `${credentialSdsName(credential)}-cacert`;

const TLS_VERSIONS: Readonly<Record<string, string | undefined>> = {
  TLS_AUTO: undefined, TLSV1_0: 'TLSv1_0', TLSV1_1: 'TLSv1_1', TLSV1_2: 'TLSv1_2', TLSV1_3: 'TLSv1_3',
};

type Tls = NonNullable<GatewayServerSpec['tls']>;

function tlsParams(tls: Tls): EnvoyObject {
  const out: EnvoyObject = { tlsMinimumProtocolVersion: TLS_VERSIONS[tls.minProtocolVersion ?? ''] ?? 'TLSv1_2' };
  const max = TLS_VERSIONS[tls.maxProtocolVersion ?? ''];
  if (max) out.tlsMaximumProtocolVersion = max;
  if (tls.cipherSuites?.length) out.cipherSuites = [...tls.cipherSuites];
  return out;
}

function credentialsOf(tls: Tls): string[] {
  if (tls.credentialNames?.length) return [...tls.credentialNames];
  return tls.credentialName ? [tls.credentialName] : [];
}

/** What the common context holds for the server's certificate and its client verification. */
function certificates(tls: Tls, verify: boolean): EnvoyObject {
  const out: EnvoyObject = {};
  const credentials = credentialsOf(tls);
  if (credentials.length > 0) {
    out.tlsCertificateSdsSecretConfigs = credentials.map((c) => ({ name: credentialSdsName(c) }));
    if (verify) out.validationContextSdsSecretConfig = { name: caSdsName(tls.caCertCredentialName ?? credentials[0]!) };
    return out;
  }
  const pairs = tls.tlsCertificates?.length
    ? tls.tlsCertificates.map((c) => ({ cert: c.serverCertificate, key: c.privateKey }))
    : [{ cert: tls.serverCertificate, key: tls.privateKey }];
  out.tlsCertificates = pairs.filter((p) => p.cert && p.key)
    .map((p) => ({ certificateChain: { filename: p.cert }, privateKey: { filename: p.key } }));
  const ca = tls.caCertificates ?? tls.tlsCertificates?.find((c) => c.caCertificates)?.caCertificates;
  if (verify && tls.caCertCredentialName) out.validationContextSdsSecretConfig = { name: caSdsName(tls.caCertCredentialName) };
  else if (verify && ca) out.validationContext = { trustedCa: { filename: ca } };
  return out;
}

/** The transport socket terminating TLS for a server; `http`: the chain carries HTTP (ALPN offered). */
export function gatewayDownstreamTls(server: GatewayServerSpec, http: boolean): EnvoyObject {
  const tls: Tls = server.tls ?? {};
  const mode = tlsModeOf(server);
  // Mesh clients (sidecars with ISTIO_MUTUAL) announce the mesh ALPNs an inbound mTLS chain accepts.
  if (mode === 'ISTIO_MUTUAL') return downstreamMtls(http ? 'http' : 'tcp');
  const verify = mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
  const common: EnvoyObject = { tlsParams: tlsParams(tls), ...certificates(tls, verify) };
  if (http) common.alpnProtocols = [...GATEWAY_HTTPS_ALPNS];
  const context: EnvoyObject = { commonTlsContext: common };
  if (mode === 'MUTUAL') context.requireClientCertificate = bool(true);
  return { name: TLS_TRANSPORT_SOCKET, typedConfig: any(DOWNSTREAM_TLS_CONTEXT, context) };
}
