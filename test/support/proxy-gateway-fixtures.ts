// Gateway test material: Envoy objects shaped like translated gateway listeners (one listener per server port,
// SNI-matched filter chains with DownstreamTlsContexts naming `kubernetes://<credential>` SDS secrets or files,
// PASSTHROUGH chains with tcp_proxy), server certificates for host names from a test CA, the credentials Secret's
// flat keys, an app that answers its name, and a TLS/HTTPS client that reports the certificate it was shown.
import 'reflect-metadata';
import { X509Certificate, webcrypto } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import * as x509 from '@peculiar/x509';
import { createCa, issueLeaf } from '../../src/pki/certs.ts';
import type { Ca } from '../../src/pki/certs.ts';
import { silentLogger, type Logger } from '../../src/controllers/log.ts';
import { defaultParts } from '../../src/proxy/sidecar-parts.ts';
import { startSidecar, type Sidecar } from '../../src/proxy/sidecar.ts';
import { TLS_INSPECTOR, hcm } from './envoy-objects.ts';

type O = Record<string, unknown>;
const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
export const tlsInspector = { name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': TLS_INSPECTOR } };
const ALPN = ['h2', 'http/1.1'];
/** The connection manager settings Istio gives gateway listeners (the edge: the peer's address is trusted). */
export const gatewayHcm = (rds: string): O => hcm(rds, { useRemoteAddress: { value: true } });

const transportSocket = (ctx: O): O => ({ name: 'envoy.transport_sockets.tls', typedConfig: { '@type': DOWNSTREAM_TLS, ...ctx } });

/** SIMPLE (or MUTUAL when `mutual`) with a credentialName. */
export function sdsTls(credential: string, mutual = false): O {
  return transportSocket({
    commonTlsContext: {
      tlsCertificateSdsSecretConfigs: [{ name: `kubernetes://${credential}`, sdsConfig: { ads: {} } }],
      ...(mutual ? { validationContextSdsSecretConfig: { name: `kubernetes://${credential}-cacert`, sdsConfig: { ads: {} } } } : {}),
      alpnProtocols: ALPN,
    },
    ...(mutual ? { requireClientCertificate: { value: true } } : {}),
  });
}

/** MUTUAL as Istio writes it with subjectAltNames: a combined validation context (SAN matchers + the SDS CA). */
export function sdsMutualWithSans(credential: string, sans: string[]): O {
  return transportSocket({
    commonTlsContext: {
      tlsCertificateSdsSecretConfigs: [{ name: `kubernetes://${credential}`, sdsConfig: { ads: {} } }],
      combinedValidationContext: {
        defaultValidationContext: { matchSubjectAltNames: sans.map((exact) => ({ exact })) },
        validationContextSdsSecretConfig: { name: `kubernetes://${credential}-cacert`, sdsConfig: { ads: {} } },
      },
      alpnProtocols: ALPN,
    },
    requireClientCertificate: { value: true },
  });
}

/** SIMPLE (or MUTUAL with `ca`) from certificate files. */
export function fileTls(cert: string, key: string, ca?: string): O {
  return transportSocket({
    commonTlsContext: {
      tlsCertificates: [{ certificateChain: { filename: cert }, privateKey: { filename: key } }],
      ...(ca ? { validationContext: { trustedCa: { filename: ca } } } : {}),
      alpnProtocols: ALPN,
    },
    ...(ca ? { requireClientCertificate: { value: true } } : {}),
  });
}

/** An HTTPS server's chain: TLS terminated, then the connection manager with its own RDS name. */
export const httpsChain = (name: string, serverNames: string[], socket: O, rds: string): O => ({
  name, ...(serverNames.length ? { filterChainMatch: { serverNames } } : {}), transportSocket: socket, filters: [gatewayHcm(rds)],
});

export interface HostCert {
  cert: string;
  key: string;
  /** The certificate's serial number (as node reports it), to tell certificates apart. */
  serial: string;
}

let caP: Promise<Ca> | undefined;
/** The test's "public" CA for gateway server and client certificates. */
export const webCa = (): Promise<Ca> => (caP ??= createCa('weft gateway test CA'));

export async function hostCert(names: string[], ca?: Ca, client = false): Promise<HostCert> {
  const leaf = await issueLeaf(ca ?? await webCa(), { commonName: names[0]!, dnsNames: names, server: !client, client });
  return { cert: leaf.certPem, key: leaf.keyPem, serial: new X509Certificate(leaf.certPem).serialNumber };
}

/** A self-signed RSA certificate for `names` (weft's CA issues ECDSA only; Istio's credentialNames pair both). */
export async function rsaSelfSigned(names: string[]): Promise<HostCert> {
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '0a1b2c', name: `CN=${names[0]!}`, keys, signingAlgorithm: alg,
    notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000),
    extensions: [new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value })))],
  }, webcrypto);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  const pem = cert.toString('pem');
  return { cert: pem, key, serial: new X509Certificate(pem).serialNumber };
}

/** The flat keys of `weft-gateway-credentials-<workload>` for one credentialName. */
export function credentialFiles(name: string, c: { cert?: string; key?: string; ca?: string }): Record<string, string> {
  return {
    ...(c.cert !== undefined ? { [`${name}.tls.crt`]: c.cert } : {}),
    ...(c.key !== undefined ? { [`${name}.tls.key`]: c.key } : {}),
    ...(c.ca !== undefined ? { [`${name}.ca.crt`]: c.ca } : {}),
  };
}

/** An HTTP/1.1 app answering `<name> <path>`. */
export async function nameApp(name: string): Promise<{ address: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => res.end(`${name} ${req.url ?? ''}`));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { address: `127.0.0.1:${port}`, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

export interface TlsReply {
  /** The response body, or the error that ended the attempt. */
  body?: string;
  error?: string;
  /** The server certificate's serial number. */
  serial?: string;
}

/**
 * One HTTP/1.1 request over a fresh TLS connection with the given SNI, trusting `ca`; `client` adds a client
 * certificate. Resolves with the body or the error (a refused handshake is a result, not a failure).
 */
export function httpsGet(
  port: number, opts: { sni?: string; host: string; path?: string; ca: string | string[]; client?: HostCert; tls?: tls.ConnectionOptions },
): Promise<TlsReply> {
  return new Promise((resolve) => {
    let serial: string | undefined;
    const socket = tls.connect({
      host: '127.0.0.1', port, ca: opts.ca, ALPNProtocols: ['http/1.1'],
      ...(opts.sni !== undefined ? { servername: opts.sni } : {}),
      // The certificate is checked against the Host the test means, whatever the SNI was.
      checkServerIdentity: (_h, cert) => tls.checkServerIdentity(opts.host, cert),
      ...(opts.client ? { cert: opts.client.cert, key: opts.client.key } : {}),
      ...opts.tls,
    }, () => {
      serial = socket.getPeerCertificate().serialNumber;
      socket.write(`GET ${opts.path ?? '/'} HTTP/1.1\r\nhost: ${opts.host}\r\nconnection: close\r\n\r\n`);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    const done = (error?: string) => {
      const body = text.includes('\r\n\r\n') ? text.slice(text.indexOf('\r\n\r\n') + 4) : undefined;
      resolve({ ...(body !== undefined ? { body } : {}), ...(error && body === undefined ? { error } : {}), ...(serial ? { serial } : {}) });
    };
    socket.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    socket.on('end', () => done(text ? undefined : 'closed'));
    socket.setTimeout(3000, () => { socket.destroy(); done('timeout'); });
  });
}

/** A proxy in gateway mode (no capture) on `configDir` and `credentialsDir`, ready; `cleanup` gets its shutdown. */
export async function startGateway(o: { configDir: string; credentialsDir?: string; log?: Logger; cleanup: Array<() => unknown> }): Promise<Sidecar> {
  const log = o.log ?? silentLogger;
  const sidecar = await startSidecar({
    configDir: o.configDir,
    ...(o.credentialsDir ? { credentialsDir: o.credentialsDir } : {}),
    admin: { host: '127.0.0.1', port: 0 },
    listeners: { capture: 'none', outboundPort: 15001, inboundPort: 15006, explicit: [], gateway: true },
    drainTimeoutMs: 500,
    log,
    parts: defaultParts(log),
    pollMs: 50,
  });
  o.cleanup.push(() => sidecar.shutdown('test cleanup'));
  await sidecar.ready();
  return sidecar;
}
