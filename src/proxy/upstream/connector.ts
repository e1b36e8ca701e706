// Opens one upstream connection: TCP (optionally from a bound source address) or TLS per the TransportSpec, with
// the connect timeout and an abort signal. Both the pooled HTTP dispatchers (as undici's connector) and the TCP
// proxy's connect() come through here, so TLS, SAN checks and the peer principal are handled in one place.
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import type { PeerCertificate, SecureContext, TLSSocket } from 'node:tls';
import type { TransportSpec } from './tls.ts';
import { checkSans, uriSan } from './tls.ts';

export interface ConnectTarget {
  host: string;
  port: number;
  timeoutMs: number;
  localAddress?: string;
  /** TCP keepalive initial delay in ms when the cluster asks for keepalive. */
  keepAliveMs?: number;
  signal?: AbortSignal;
  tls?: {
    spec: Extract<TransportSpec, { kind: 'tls' }>;
    context: SecureContext;
    alpn: string[];
    /** SNI other than the context's (auto_sni). */
    servername?: string;
    /** A host name the certificate must be valid for, as HTTPS checks it (auto_san_validation). */
    verifyName?: string;
    /** Called with the peer's URI SAN once the handshake passed the checks (a resumed session carries no
     * certificate: `resumed` says so, and the principal is the one the session was made with). */
    onPeer(principal: string | undefined, resumed: boolean): void;
    /** A TLS session from an earlier connection under the same context, to resume. */
    session?: Buffer;
    /** Called with each session (ticket) the server issues on this connection. */
    onSession?(session: Buffer): void;
  };
}

export class UpstreamConnectError extends Error {
  readonly code: 'timeout' | 'refused' | 'tls' | 'aborted';
  constructor(code: UpstreamConnectError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'UpstreamConnectError';
  }
}

export function openSocket(t: ConnectTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (t.signal?.aborted) {
      reject(new UpstreamConnectError('aborted', 'connect aborted'));
      return;
    }
    let socket: Socket;
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      t.signal?.removeEventListener('abort', onAbort);
      // The error listener stays (a no-op from now on), as undici's own connector does: whoever takes the socket
      // attaches theirs a moment later, and an error in between must not go unhandled.
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        resolve(socket);
      }
    };
    const onAbort = () => done(new UpstreamConnectError('aborted', 'connect aborted'));
    let tcpUp = false;
    const onError = (err: Error) => {
      // Once TCP is up, a failure of a TLS connection is the handshake's (trust, SAN, ALPN, protocol version).
      const tlsFailure = t.tls !== undefined && tcpUp;
      done(new UpstreamConnectError(tlsFailure ? 'tls' : 'refused', `upstream connect to ${t.host}:${t.port} failed: ${err.message}`, { cause: err }));
    };
    const base = { host: t.host, port: t.port, ...(t.localAddress ? { localAddress: t.localAddress } : {}) };
    if (t.tls) {
      const { spec, context, alpn, onPeer, verifyName, session, onSession } = t.tls;
      const servername = t.tls.servername ?? spec.sni;
      let peer: string | undefined;
      const s: TLSSocket = tlsConnect({
        ...base,
        secureContext: context,
        ...(servername ? { servername } : {}),
        ...(alpn.length ? { ALPNProtocols: alpn } : {}),
        ...(session ? { session } : {}),
        rejectUnauthorized: spec.trust.kind !== 'none',
        checkServerIdentity: (_host: string, cert: PeerCertificate) => {
          const err = checkSans(spec.sans, cert) ?? (verifyName ? checkServerIdentity(verifyName, cert) : undefined);
          if (!err) peer = uriSan(cert);
          return err;
        },
      });
      socket = s;
      if (onSession) s.on('session', onSession);
      s.once('secureConnect', () => {
        const resumed = s.isSessionReused();
        onPeer(peer ?? (resumed ? undefined : uriSan(s.getPeerCertificate())), resumed);
        done();
      });
    } else {
      socket = netConnect(base);
      socket.once('connect', () => done());
    }
    socket.once('connect', () => { tcpUp = true; });
    socket.setNoDelay(true);
    if (t.keepAliveMs !== undefined) socket.setKeepAlive(true, t.keepAliveMs);
    socket.on('error', onError);
    const timer = setTimeout(() => done(new UpstreamConnectError('timeout', `upstream connect to ${t.host}:${t.port} timed out after ${t.timeoutMs} ms`)), t.timeoutMs);
    timer.unref();
    t.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
