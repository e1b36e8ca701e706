// createHttpHandler: the HTTP side of the sidecar. Connections arrive from the listeners (plaintext or with TLS
// already terminated) and are fed to one non-listening node:http server (HTTP/1.1: keep-alive, pipelining,
// WebSocket upgrades) or one node:http2 server (h2c prior knowledge, or ALPN h2) per handler. Each request
// becomes an Exchange. Hardening: llhttp in strict mode (smuggling attempts → 400), a header size limit (431),
// a Host header requirement, headers/request/keep-alive timeouts against slow clients. drain() stops
// keep-alive (Connection: close, GOAWAY) and resolves when in-flight requests are done.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse, ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnContext, HttpHandler, Runtime } from '../runtime.ts';
import { onClientError } from './client-error.ts';
import { Exchange } from './exchange.ts';
import { makeShared } from './shared.ts';
import { handleUpgrade } from './websocket.ts';

export interface HttpHandlerOptions {
  /** Request header block limit (bytes); larger requests get 431. Envoy's default is 60 KiB. */
  maxHeaderSize?: number;
  /** Time allowed to receive a request's headers (slowloris); the connection is answered 408 and closed. */
  headersTimeoutMs?: number;
  /** Time allowed to receive a whole request (0 = none). */
  requestTimeoutMs?: number;
  /** Idle time between requests on an HTTP/1.1 connection before it is closed. */
  keepAliveTimeoutMs?: number;
  /** An HTTP/2 connection without any frame for this long is closed (Envoy's connection idle_timeout, 1 h). */
  http2IdleTimeoutMs?: number;
  /** How often the HTTP/1 server checks the headers/request timeouts. */
  timeoutCheckIntervalMs?: number;
  /** Request bodies up to this size are buffered for retries and mirrors (Envoy's buffer limit: 1 MiB). */
  bufferLimitBytes?: number;
}

const kCtx = Symbol('weft.connContext');

interface Tagged { [kCtx]?: ConnContext }

function isWebSocket(v: string | undefined): boolean {
  return v !== undefined && v.length === 9 && v.toLowerCase() === 'websocket';
}

/** Runs an exchange; a bug or a config the router cannot evaluate answers 500 instead of crashing the proxy. */
function start(ex: Exchange): void {
  try {
    ex.run();
  } catch (err) {
    ex.forward?.cancel();
    ex.reply({ status: 500, body: `internal proxy error: ${(err as Error).message}` }, []);
  }
}

export function createHttpHandler(runtime: Runtime, options: HttpHandlerOptions = {}): HttpHandler {
  const maxHeaderSize = options.maxHeaderSize ?? 60 * 1024;
  const shared = makeShared(runtime, options.bufferLimitBytes ?? 1024 * 1024, maxHeaderSize);

  const h1 = http.createServer({
    requireHostHeader: true,
    insecureHTTPParser: false,
    maxHeaderSize,
    headersTimeout: options.headersTimeoutMs ?? 10_000,
    requestTimeout: options.requestTimeoutMs ?? 300_000,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 60_000,
    connectionsCheckingInterval: options.timeoutCheckIntervalMs ?? 1000,
    // Only WebSocket upgrades leave HTTP; others (h2c, …) are plain requests whose Upgrade header is dropped.
    shouldUpgradeCallback: (req: IncomingMessage) => isWebSocket(req.headers.upgrade),
  }, (req: IncomingMessage, res: ServerResponse) => {
    const ctx = (req.socket as Tagged)[kCtx];
    if (!ctx) {
      res.destroy();
      return;
    }
    start(new Exchange(shared, ctx, req, res, false));
  });
  // The server never listens; this starts its connection tracking, which enforces headers/request timeouts.
  h1.emit('listening');
  // Requests the parser rejects: node's own answer (400/431/408) plus a DPE record.
  h1.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => onClientError(shared, (socket as Tagged)[kCtx], err, socket));
  h1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const ctx = (req.socket as Tagged)[kCtx];
    if (!ctx) socket.destroy();
    else handleUpgrade(shared, ctx, req, socket, head);
  });

  // drain() callers waiting for the last request in flight to end.
  const idleWaiters = new Set<() => void>();
  shared.onIdle = () => {
    for (const w of [...idleWaiters]) w();
  };

  const sessions = new Set<ServerHttp2Session>();
  let pending: ConnContext | undefined;
  const h2 = http2.createServer({
    maxSessionMemory: 32,
    settings: { maxHeaderListSize: maxHeaderSize, enablePush: false },
  }, (req: Http2ServerRequest, res: Http2ServerResponse) => {
    const ctx = (req.stream.session as unknown as Tagged | undefined)?.[kCtx];
    if (!ctx) {
      res.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    start(new Exchange(shared, ctx, req, res, true));
  });
  h2.setTimeout(options.http2IdleTimeoutMs ?? 3_600_000);
  h2.on('session', (s: ServerHttp2Session) => {
    (s as unknown as Tagged)[kCtx] = pending;
    sessions.add(s);
    if (shared.draining) s.close();
    s.once('close', () => sessions.delete(s));
  });

  return {
    serve(socket: Duplex, ctx: ConnContext, protocol: 'http1' | 'http2'): void {
      (socket as Tagged)[kCtx] = ctx;
      // Responses go out as soon as they are written (a server that never listens never sets this itself);
      // with Nagle on, a head and body written apart wait for the peer's delayed ACK.
      (socket as Partial<Socket>).setNoDelay?.(true);
      if (protocol === 'http2') {
        pending = ctx;
        try {
          h2.emit('connection', socket);
        } finally {
          pending = undefined;
        }
      } else {
        h1.emit('connection', socket);
      }
    },

    drain(timeoutMs: number): Promise<void> {
      shared.draining = true;
      h1.closeIdleConnections();
      for (const s of sessions) s.close();
      if (shared.inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done(): void {
          clearTimeout(timer);
          idleWaiters.delete(done);
          resolve();
        }
        idleWaiters.add(done);
      });
    },

    inFlight(): number {
      return shared.inFlight;
    },
  };
}
