// TLS termination for filter chains with a DownstreamTlsContext (inbound mTLS, a gateway's HTTPS servers): the
// context object and the live config in, a secure context and the handshake rules out (client certificate
// required or not, trusted CA, ALPN, SAN matchers, protocol versions, cipher suites); then `terminateTls` runs
// the handshake on a connection and returns the plaintext socket with the peer's SPIFFE id. Certificates come
// from files (the identity and credentials directories resolve live), inline data, or SDS names: `default` /
// `ROOTCA` (the workload identity) and `kubernetes://X` / `kubernetes://X-cacert` (a gateway's credentials).
// Secure contexts are cached per (LoadedConfig, identity, credentials): a rotation applies to new handshakes and
// leaves open connections alone; a chain whose certificates are missing or bad fails its handshakes, reported
// once per version.
import { TLSSocket, createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';
import type { Socket } from 'node:net';
import type { FileSource, Identity, LoadedConfig, Runtime } from '../runtime.ts';
import { arr, bool, has, obj, str, strs } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import { compileStringMatcher } from '../routing/string-matcher.ts';
import type { StringPredicate } from '../routing/string-matcher.ts';
import { subjectAltNames, uriSan } from '../upstream/tls.ts';
import type { Credentials } from '../config/credentials.ts';
import { sdsCaFiles, sdsSecretFiles } from '../config/credentials.ts';

interface DownstreamTls {
  context: SecureContext;
  /** Ask for a client certificate (a validation context is configured). */
  requestCert: boolean;
  /** require_client_certificate: no certificate, no connection. */
  requireCert: boolean;
  alpn: string[];
  sans: StringPredicate[];
}

type Outcome = { kind: 'ok'; tls: DownstreamTls } | { kind: 'failed'; reason: string };
type Built = { identity: Identity | undefined; credentials: Credentials | undefined; outcome: Outcome };
const SESSION_ID_CONTEXT = 'weft-sidecar';
const cache = new WeakMap<LoadedConfig, WeakMap<Obj, Built>>();

function dataSource(files: FileSource, ds: unknown, what: string): string {
  const d = obj(ds);
  if (has(d, 'filename')) return read(files, str(d.filename), what);
  if (has(d, 'inlineString')) return str(d.inlineString);
  if (has(d, 'inlineBytes')) return Buffer.from(str(d.inlineBytes), 'base64').toString('utf8');
  throw new Error(`downstream TLS: ${what} has no filename or inline data`);
}

function read(files: FileSource, path: string, what: string): string {
  const text = files.read(path);
  if (text === undefined) throw new Error(`downstream TLS: ${what} ${path} is not available`);
  return text;
}

/** The server's certificates: every tls_certificates entry, else every SDS secret (Istio's credentialNames give
 * two, e.g. RSA and ECDSA; OpenSSL serves the one that suits the client). */
function certificates(common: Obj, files: FileSource): { cert: string[]; key: string[] } {
  const out = { cert: [] as string[], key: [] as string[] };
  const inline = arr(common.tlsCertificates);
  for (const c of inline) {
    out.cert.push(dataSource(files, c.certificateChain, 'certificate chain'));
    out.key.push(dataSource(files, c.privateKey, 'private key'));
  }
  if (inline.length > 0) return out;
  for (const sdsConfig of arr(common.tlsCertificateSdsSecretConfigs)) {
    const sds = str(sdsConfig.name);
    const known = sds ? sdsSecretFiles(sds) : undefined;
    if (!known || !('chain' in known)) throw new Error(`downstream TLS: SDS secret "${sds}" is not one the proxy serves`);
    out.cert.push(read(files, known.chain, `certificate chain of "${sds}"`));
    out.key.push(read(files, known.key, `private key of "${sds}"`));
  }
  if (out.cert.length === 0) throw new Error('downstream TLS: no server certificate');
  return out;
}

/** Envoy's cipher_suites (TLS 1.2 and below) as an OpenSSL list; `[A|B]` equivalence groups count as A and B. */
function cipherList(params: Obj): string | undefined {
  const names = strs(params.cipherSuites).flatMap((c) => c.replace(/^\[|\]$/g, '').split('|')).filter(Boolean);
  return names.length > 0 ? names.join(':') : undefined;
}

/** The trusted CA an SDS validation secret names, as a data source (the first credential file present). */
function sdsTrustedCa(name: string, files: FileSource): Obj | undefined {
  // `default` is a certificate, not a CA: no validation from it (as before SDS credentials were known).
  if (!name || name === 'default') return undefined;
  const paths = sdsCaFiles(name);
  if (!paths) throw new Error(`downstream TLS: SDS validation secret "${name}" is not one the proxy serves`);
  const found = paths.find((p) => files.read(p) !== undefined);
  if (!found) throw new Error(`downstream TLS: trusted CA of "${name}" ${paths[0]} is not available`);
  return { filename: found };
}

/** The validation context: inline, or combined (its default context plus an SDS CA), or an SDS CA alone. */
function validation(common: Obj, files: FileSource): Obj | undefined {
  if (has(common, 'validationContext')) return obj(common.validationContext);
  if (has(common, 'combinedValidationContext')) {
    const combined = obj(common.combinedValidationContext);
    const base = obj(combined.defaultValidationContext);
    const ca = sdsTrustedCa(str(obj(combined.validationContextSdsSecretConfig).name), files);
    return ca && !has(base, 'trustedCa') ? { ...base, trustedCa: ca } : base;
  }
  const ca = sdsTrustedCa(str(obj(common.validationContextSdsSecretConfig).name), files);
  return ca ? { trustedCa: ca } : undefined;
}

function tlsVersion(v: unknown): 'TLSv1.2' | 'TLSv1.3' | undefined {
  const s = str(v);
  return s === 'TLSv1_3' || v === 4 ? 'TLSv1.3' : s === 'TLSv1_2' || v === 3 ? 'TLSv1.2' : undefined;
}

export function buildDownstreamTls(dtls: Obj, files: FileSource): DownstreamTls {
  const common = obj(dtls.commonTlsContext);
  const { cert, key } = certificates(common, files);
  const v = validation(common, files);
  const trusted = obj(v?.trustedCa);
  const ca = Object.keys(trusted).length > 0 ? dataSource(files, trusted, 'trusted CA') : undefined;
  const params = obj(common.tlsParams);
  const minVersion = tlsVersion(params.tlsMinimumProtocolVersion) ?? 'TLSv1.2';
  const maxVersion = tlsVersion(params.tlsMaximumProtocolVersion) ?? 'TLSv1.3';
  // The session id context lets peers resume sessions (tickets) with client certificates requested: without it
  // OpenSSL fails such a handshake instead of falling back to a full one. Tickets are sealed with this context's
  // own keys, so a new config or identity (a new context) turns old tickets into full handshakes.
  const ciphers = cipherList(params);
  const context = createSecureContext({
    cert, key, ...(ca ? { ca } : {}), ...(ciphers ? { ciphers } : {}), minVersion, maxVersion, sessionIdContext: SESSION_ID_CONTEXT,
  });
  const sans = arr(v?.matchSubjectAltNames).map((m) => compileStringMatcher(m));
  for (const t of arr(v?.matchTypedSubjectAltNames)) sans.push(compileStringMatcher(t.matcher));
  const requireCert = bool(dtls.requireClientCertificate, false);
  return { context, requestCert: ca !== undefined || requireCert, requireCert, alpn: strs(common.alpnProtocols), sans };
}

/**
 * The TLS settings of a filter chain under a config, built once per (config, identity, credentials). A chain
 * that cannot be built fails with the reason; `fresh` says this is the first connection to see that reason.
 */
export function downstreamTlsFor(runtime: Runtime, loaded: LoadedConfig, dtls: Obj): Outcome & { fresh?: boolean } {
  let perConfig = cache.get(loaded);
  if (!perConfig) {
    perConfig = new WeakMap();
    cache.set(loaded, perConfig);
  }
  const identity = runtime.live.identity();
  const credentials = runtime.live.credentials?.();
  const hit = perConfig.get(dtls);
  if (hit && hit.identity === identity && hit.credentials === credentials) return hit.outcome;
  let outcome: Outcome;
  try {
    outcome = { kind: 'ok', tls: buildDownstreamTls(dtls, runtime.live.files) };
  } catch (e) {
    outcome = { kind: 'failed', reason: (e as Error).message };
  }
  perConfig.set(dtls, { identity, credentials, outcome });
  return outcome.kind === 'failed' ? { ...outcome, fresh: true } : outcome;
}

/**
 * OpenSSL's verdict on the peer's chain. A tls.Server sets `authorized` from it after the handshake; a TLSSocket
 * made directly (needed here: the connection was accepted by a plain net server and sniffed first) does not, so it
 * is read from the TLS handle the same way (`_handle.verifyError()`, internal but the only way to reach the
 * verification result).
 */
function peerVerifyError(socket: TLSSocket): string | undefined {
  const handle = (socket as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
  if (typeof handle?.verifyError !== 'function') return 'the TLS handle cannot report verification';
  const err = handle.verifyError();
  return err ? err.code ?? err.message : undefined;
}

type Terminated =
  | { kind: 'ok'; socket: TLSSocket; peerPrincipal?: string; alpn?: string; sni?: string }
  | { kind: 'failed'; reason: string };

/**
 * Runs the server handshake on an accepted connection. `head` (the bytes protocol detection read) goes back into
 * the paused socket's buffer: TLSSocket feeds bytes buffered on the socket to its TLS handle first, then the
 * handle reads the TCP handle natively, so the encrypted stream never crosses a JavaScript stream.
 */
export function terminateTls(stream: Socket, tls: DownstreamTls, handshakeTimeoutMs = 10_000, head?: Buffer): Promise<Terminated> {
  if (head && head.length > 0) {
    stream.pause();
    stream.unshift(head);
  }
  return new Promise((resolve) => {
    const socket = new TLSSocket(stream, {
      isServer: true,
      secureContext: tls.context,
      requestCert: tls.requestCert,
      rejectUnauthorized: tls.requireCert,
      ...(tls.alpn.length > 0 ? { ALPNProtocols: tls.alpn } : {}),
    });
    const fail = (reason: string) => {
      clearTimeout(timer);
      socket.destroy();
      stream.destroy();
      resolve({ kind: 'failed', reason });
    };
    const timer = setTimeout(() => fail('TLS handshake timed out'), handshakeTimeoutMs);
    const onError = (e: Error) => fail(`TLS handshake failed: ${e.message}`);
    socket.once('error', onError);
    socket.once('secure', () => {
      const peer = socket.getPeerCertificate();
      const presented = peer !== undefined && Object.keys(peer).length > 0;
      // A presented certificate must verify even when one is not required (Envoy fails such handshakes too).
      const verifyError = presented ? peerVerifyError(socket) : undefined;
      if (tls.requireCert && !presented) {
        fail('client certificate rejected: none presented');
        return;
      }
      if (verifyError) {
        fail(`client certificate rejected: ${verifyError}`);
        return;
      }
      if (presented && tls.sans.length > 0) {
        const names = subjectAltNames(peer).map((s) => s.value);
        if (!tls.sans.some((m) => names.some((n) => m(n)))) {
          fail(`client certificate SANs (${names.join(', ') || 'none'}) match none of the configured subject alt names`);
          return;
        }
      }
      clearTimeout(timer);
      // A tls.Server marks its sockets as connected after the handshake; a TLSSocket made directly keeps
      // `secureConnecting` set, and node:http2 would then wait for a 'secureConnect' a server never emits.
      (socket as TLSSocket & { secureConnecting?: boolean }).secureConnecting = false;
      socket.off('error', onError);
      // Whoever takes the socket adds its own handlers; until then an error just closes it.
      socket.on('error', () => socket.destroy());
      const principal = presented ? uriSan(peer) : undefined;
      const alpn = socket.alpnProtocol || undefined;
      const sni = (socket as TLSSocket & { servername?: string | false }).servername || undefined;
      resolve({
        kind: 'ok',
        socket,
        ...(principal ? { peerPrincipal: principal } : {}),
        ...(alpn ? { alpn } : {}),
        ...(sni ? { sni } : {}),
      });
    });
  });
}
