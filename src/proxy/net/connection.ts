// One accepted connection, from accept to its handler: where it was headed (captured original destination,
// an explicit listener's fixed destination, or a gateway's bound address) in; protocol detection as the owning
// listener's inspectors ask (and as its chains need: a gateway's HTTP listener has no inspector), the plan under
// the live config, TLS termination when the filter chain has a DownstreamTlsContext (a chain that cannot build
// one refuses its handshakes), then the TCP proxy or the HTTP handler. Closed plans close the connection.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { DOWNSTREAM_TLS_TYPE, HCM_TYPE, pickListener } from '../routing/engine.ts';
import type { ConnectionInfo } from '../routing/engine.ts';
import { anyType, arr, bool, durationMs, has, isObj, obj } from '../routing/envoy-values.ts';
import { detect } from '../routing/filter-chain.ts';
import type { Obj } from '../routing/envoy-values.ts';
import type { ConnContext, HttpHandler, Runtime } from '../runtime.ts';
import { connContext } from './conn-context.ts';
import { downstreamTlsFor, terminateTls } from './downstream-tls.ts';
import { sniff } from './sniff.ts';
import type { SniffOptions } from './sniff.ts';
import { proxyTcp } from './tcp-proxy.ts';

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface ConnectionEnv {
  runtime: Runtime;
  http: HttpHandler;
  log: LogFn;
  /** Overrides the listener's listener_filters_timeout (milliseconds; 0 = wait for the client). */
  sniffTimeoutMs?: number;
  maxSniffBytes?: number;
  tlsHandshakeTimeoutMs?: number;
}

export interface Accepted {
  kind: ConnContext['kind'];
  direction: 'outbound' | 'inbound';
  destinationIp: string;
  port: number;
}

/** Envoy's listener_filters_timeout when a listener does not set one. */
const ENVOY_LISTENER_FILTERS_TIMEOUT_MS = 15_000;

/** ALPN names of HTTP/2: h2, and istio-h2 between sidecars. */
const isH2 = (alpn: string | undefined): boolean => alpn === 'h2' || alpn === 'istio-h2';

export const plainIp = (ip: string | undefined): string | undefined => (ip?.startsWith('::ffff:') ? ip.slice(7) : ip);

/** What a listener's filter chains do with the bytes whatever the listener filters say: terminate TLS (a
 * DownstreamTlsContext), parse HTTP (a connection manager). */
const chainNeeds = new WeakMap<Obj, { tls: boolean; http: boolean }>();

function needsOfChains(listener: Obj): { tls: boolean; http: boolean } {
  let n = chainNeeds.get(listener);
  if (!n) {
    const chains = [...arr(listener.filterChains), ...(isObj(listener.defaultFilterChain) ? [listener.defaultFilterChain] : [])];
    n = {
      tls: chains.some((c) => anyType(obj(obj(c.transportSocket).typedConfig)) === DOWNSTREAM_TLS_TYPE),
      http: chains.some((c) => arr(c.filters).some((f) => anyType(f.typedConfig) === HCM_TYPE)),
    };
    chainNeeds.set(listener, n);
  }
  return n;
}

function sniffOptions(env: ConnectionEnv, listener: Obj | undefined, info: ConnectionInfo): SniffOptions {
  if (!listener) return { tls: false, http: false };
  const at = { port: info.port, ...(info.destinationIp ? { destinationIp: info.destinationIp } : {}) };
  const tls = detect(listener, { ...at, tls: {} }).transportProtocol === 'tls';
  const http = detect(listener, { ...at, http: 'http1' }).applicationProtocols.length > 0;
  const configured = has(listener, 'listenerFiltersTimeout') ? durationMs(listener.listenerFiltersTimeout) ?? 0 : ENVOY_LISTENER_FILTERS_TIMEOUT_MS;
  // Without an inspector, Envoy still terminates TLS and parses HTTP in the chain; the proxy needs to know which
  // to hand the bytes to (chain selection ignores what is learnt this way: detect() sees no inspector). A client
  // that stays silent is not refused for it: after the timeout it goes on as TCP.
  const chains = needsOfChains(listener);
  const implicit = (chains.tls && !tls) || (chains.http && !http);
  return {
    tls: tls || chains.tls,
    http: http || chains.http,
    timeoutMs: env.sniffTimeoutMs ?? configured,
    continueOnTimeout: bool(listener.continueOnListenerFiltersTimeout, false) || (implicit && !tls && !http),
    ...(env.maxSniffBytes ? { maxBytes: env.maxSniffBytes } : {}),
  };
}

export async function handleConnection(env: ConnectionEnv, socket: Socket, a: Accepted): Promise<void> {
  const { runtime, log } = env;
  socket.on('error', () => socket.destroy());
  const sourceIp = plainIp(socket.remoteAddress);
  const info: ConnectionInfo = { direction: a.direction, destinationIp: a.destinationIp, port: a.port, ...(sourceIp ? { sourceIp } : {}) };
  const downstreamRemote = `${sourceIp ?? ''}:${socket.remotePort ?? 0}`;
  const loaded = runtime.live.current();
  if (!loaded) {
    socket.destroy();
    return;
  }
  const options = sniffOptions(env, pickListener(loaded.compiled, info), info);
  const sniffed = await sniff(socket, options);
  if (sniffed.protocol === 'closed') {
    socket.destroy();
    return;
  }
  if (sniffed.protocol === 'tls') {
    info.tls = { ...(sniffed.sni ? { sni: sniffed.sni } : {}), alpn: sniffed.alpn };
    // What an HTTP filter chain would parse once the proxy terminates this TLS (filter chains match on the TLS
    // facts only, so this changes no chain choice); set to the negotiated protocol after the handshake.
    info.http = sniffed.alpn.some(isH2) ? 'http2' : 'http1';
  } else if (sniffed.protocol !== 'tcp') info.http = sniffed.protocol;

  const ctx = connContext(runtime, a.kind, info, downstreamRemote);
  const plan = ctx.plan();
  if (plan.kind === 'closed') {
    log('debug', 'connection closed by its plan', { reason: plan.reason, listener: plan.listener, destination: `${a.destinationIp}:${a.port}` });
    socket.destroy();
    return;
  }
  let stream: Socket | Duplex = socket;
  let head = sniffed.head;
  if (plan.downstreamTls) {
    const settings = downstreamTlsFor(runtime, runtime.live.current() ?? loaded, plan.downstreamTls);
    if (settings.kind === 'failed') {
      // Once per config/identity/credentials version at warn; other chains and listeners go on serving.
      log(settings.fresh ? 'warn' : 'debug', 'cannot terminate TLS: handshakes on this filter chain fail', {
        error: settings.reason, listener: plan.listener, ...(plan.filterChain ? { filterChain: plan.filterChain } : {}),
      });
      socket.destroy();
      return;
    }
    const t = await terminateTls(socket, settings.tls, env.tlsHandshakeTimeoutMs, head);
    if (t.kind === 'failed') {
      log('debug', 'downstream TLS handshake failed', { reason: t.reason, remote: downstreamRemote });
      return;
    }
    ctx.tls = {
      ...(t.peerPrincipal ? { peerPrincipal: t.peerPrincipal } : {}),
      ...(t.sni ?? info.tls?.sni ? { sni: t.sni ?? info.tls?.sni } : {}),
      ...(t.alpn ? { alpn: t.alpn } : {}),
    };
    if (info.http) info.http = isH2(t.alpn) ? 'http2' : 'http1';
    stream = t.socket;
    head = Buffer.alloc(0);
  }
  if (plan.kind === 'tcp') {
    proxyTcp(runtime, ctx, plan, stream, head);
    return;
  }
  // An HTTP plan implies info.http; after TLS it holds the negotiated protocol.
  const protocol = info.http === 'http2' ? 'http2' : 'http1';
  if (stream !== socket) env.http.serve(stream, ctx, protocol);
  else serveSniffed(env.http, socket, head, ctx, protocol);
}

/**
 * Plaintext HTTP after detection: the bytes read go back onto the socket itself (no extra stream layer).
 * node:http2 feeds bytes already buffered on the socket to its session; the socket stays paused until then.
 * node:http keeps reading the native handle (its parser consumes it directly, the cheap path) and also listens
 * for 'data': resuming the socket after serve() emits the buffered bytes to the parser first (on the next
 * tick, before any read from the handle is delivered), so pipelined requests keep their order.
 */
function serveSniffed(http: HttpHandler, socket: Socket, head: Buffer, ctx: ConnContext, protocol: 'http1' | 'http2'): void {
  if (protocol === 'http2') {
    socket.pause();
    if (head.length > 0) socket.unshift(head);
    http.serve(socket, ctx, protocol);
    return;
  }
  if (head.length > 0) socket.unshift(head);
  http.serve(socket, ctx, protocol);
  socket.resume();
}
