// A cluster's connection settings (upstream HTTP protocol, connect timeout, idle timeout, requests per
// connection, max connections, bind address, TCP keepalive) and the undici Pool per host built from them. The
// pool's connector is ours (connector.ts), so TLS follows the cluster's transport socket, reads rotated
// certificates for each new connection, resumes the host's last TLS session, and records the peer's SPIFFE id.
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import type { SecureContext } from 'node:tls';
import { Pool } from 'undici';
import type { buildConnector } from 'undici';
import type { FileSource } from '../runtime.ts';
import { arr, durationMs, has, isObj, obj, str, u32 } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import { UNLIMITED } from './breaker.ts';
import type { Thresholds } from './breaker.ts';
import { openSocket } from './connector.ts';
import type { ConnectTarget } from './connector.ts';
import { hostAddress } from './endpoints.ts';
import { createContextCache } from './tls.ts';
import type { TransportSpec } from './tls.ts';

const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

export type UpstreamProtocol = 'http1' | 'http2' | 'downstream';

export interface ConnectionSettings {
  protocol: UpstreamProtocol;
  /** HTTP/2 streams one connection carries (http2_protocol_options.max_concurrent_streams; 100 by default). */
  maxConcurrentStreams: number;
  connectTimeoutMs: number;
  idleTimeoutMs?: number;
  maxRequestsPerConnection?: number;
  /** Undefined: no limit. */
  maxConnections?: number;
  /** upstream_bind_config source addresses, IPv4 and IPv6. */
  bind: { v4?: string; v6?: string };
  keepAliveMs?: number;
  /** upstream_http_protocol_options: SNI from the request's authority, and the certificate checked against it. */
  autoSni: boolean;
  autoSanValidation: boolean;
  /** Canonical form: pools are kept across updates while it stays the same. */
  key: string;
}

function httpOptions(cluster: Obj): Obj {
  return obj(obj(cluster.typedExtensionProtocolOptions)[HTTP_OPTIONS]);
}

function http2Options(cluster: Obj): Obj {
  const h = httpOptions(cluster);
  return obj(obj(h.explicitHttpConfig).http2ProtocolOptions ?? obj(h.useDownstreamProtocolConfig).http2ProtocolOptions
    ?? cluster.http2ProtocolOptions);
}

function protocolOf(cluster: Obj): UpstreamProtocol {
  const h = httpOptions(cluster);
  if (has(h, 'explicitHttpConfig')) return has(obj(h.explicitHttpConfig), 'http2ProtocolOptions') ? 'http2' : 'http1';
  if (has(h, 'useDownstreamProtocolConfig') || has(h, 'autoConfig')) return 'downstream';
  if (has(cluster, 'http2ProtocolOptions')) return 'http2';
  const sel = cluster.protocolSelection;
  return sel === 'USE_DOWNSTREAM_PROTOCOL' || sel === 1 ? 'downstream' : 'http1';
}

export function connectionSettings(cluster: Obj, t: Thresholds): ConnectionSettings {
  const common = obj(httpOptions(cluster).commonHttpProtocolOptions ?? cluster.commonHttpProtocolOptions);
  const bindConfig = obj(cluster.upstreamBindConfig);
  const addresses = [str(obj(bindConfig.sourceAddress).address), ...arr(bindConfig.extraSourceAddresses).map((a) => str(obj(a.address).address))];
  const bind: ConnectionSettings['bind'] = {};
  for (const a of addresses) {
    if (isIP(a) === 4) bind.v4 ??= a;
    else if (isIP(a) === 6) bind.v6 ??= a;
  }
  const keepalive = obj(cluster.upstreamConnectionOptions).tcpKeepalive;
  const upstream = obj(httpOptions(cluster).upstreamHttpProtocolOptions ?? cluster.upstreamHttpProtocolOptions);
  const s: ConnectionSettings = {
    protocol: protocolOf(cluster),
    maxConcurrentStreams: u32(http2Options(cluster).maxConcurrentStreams) || 100,
    connectTimeoutMs: durationMs(cluster.connectTimeout) || 5000,
    bind,
    autoSni: upstream.autoSni === true,
    autoSanValidation: upstream.autoSanValidation === true,
    key: '',
  };
  const idle = durationMs(common.idleTimeout);
  if (idle) s.idleTimeoutMs = idle;
  const perConn = u32(common.maxRequestsPerConnection) ?? u32(cluster.maxRequestsPerConnection);
  if (perConn) s.maxRequestsPerConnection = perConn;
  if (t.maxConnections < UNLIMITED) s.maxConnections = Math.max(1, t.maxConnections);
  if (isObj(keepalive)) s.keepAliveMs = (u32(keepalive.keepaliveTime) ?? 0) * 1000;
  s.key = JSON.stringify([s.protocol, s.maxConcurrentStreams, s.connectTimeoutMs, s.idleTimeoutMs, s.maxRequestsPerConnection, s.maxConnections, s.bind, s.keepAliveMs, s.autoSni, s.autoSanValidation]);
  return s;
}

/** The source address to bind for a destination of this family, if the cluster has one. */
function bindFor(s: ConnectionSettings, host: string): string | undefined {
  return isIP(host) === 6 ? s.bind.v6 : s.bind.v4;
}

export interface HostLink {
  host: string;
  port: number;
  spec: TransportSpec;
  /** Updated with the peer's URI SAN after each TLS handshake. */
  principal?: string;
  /** The last TLS session the host issued, with what it was made under: new connections resume it. */
  tlsSession?: TlsSession;
}

/** A resumable session is only offered under the same secure context (same identity and trust: a rotation starts
 * afresh), the same transport spec (SAN matchers) and the same SNI. */
interface TlsSession {
  context: SecureContext;
  spec: string;
  sni: string;
  ticket: Buffer;
  /** The peer's SPIFFE id from the full handshake the session came from. */
  principal: string | undefined;
}

/** Secure contexts per transport spec (by its canonical key), shared by the pools and connect() of a cluster. */
export function createContexts(): (spec: Extract<TransportSpec, { kind: 'tls' }>, files: FileSource) => SecureContext {
  const caches = new Map<string, ReturnType<typeof createContextCache>>();
  return (spec, files) => {
    let c = caches.get(spec.key);
    if (!c) {
      c = createContextCache();
      caches.set(spec.key, c);
    }
    return c(spec, files);
  };
}

export interface LinkDeps {
  settings: () => ConnectionSettings;
  files: () => FileSource;
  contexts: ReturnType<typeof createContexts>;
}

/** What a connection carries: the HTTP pools' protocol, or raw bytes (the TCP proxy). */
export type LinkUse = 'http1' | 'http2' | 'tcp';

const HTTP1_ALPNS = new Set(['http/1.1', 'http/1.0', 'istio-http/1.1', 'istio-http/1.0']);
const HTTP2_ALPNS = new Set(['h2', 'istio-h2']);

/**
 * The ALPN list a connection offers. Raw bytes offer the config's list as it is. HTTP over an in-mesh cluster
 * (its list names `istio`) announces the HTTP version first (`istio-http/1.1`, `istio-h2`), as mesh sidecars do,
 * so that the peer's inbound chain knows the stream is HTTP without seeing it; `istio` stays as the fallback a
 * TCP chain accepts. Names of the other HTTP version are dropped (the pool's codec is fixed), and the pool's own
 * plain name closes the list, so a server that knows no in-mesh names still agrees.
 */
export function offeredAlpn(configured: readonly string[], use: LinkUse): string[] {
  if (use === 'tcp') return [...configured];
  const own = use === 'http2' ? HTTP2_ALPNS : HTTP1_ALPNS;
  const other = use === 'http2' ? HTTP1_ALPNS : HTTP2_ALPNS;
  const inMesh = configured.includes('istio');
  const out = [
    ...(inMesh ? [use === 'http2' ? 'istio-h2' : 'istio-http/1.1'] : []),
    ...configured.filter((p) => !other.has(p) && (inMesh ? own.has(p) : true)),
    ...(inMesh ? ['istio'] : []),
    use === 'http2' ? 'h2' : 'http/1.1',
  ];
  return [...new Set(out)];
}

/** The connect target for one new connection to `link` (ALPN per offeredAlpn). */
export function targetFor(link: HostLink, deps: LinkDeps, use: LinkUse, signal?: AbortSignal,
  sni?: string): ConnectTarget {
  const s = deps.settings();
  const local = bindFor(s, link.host);
  const t: ConnectTarget = { host: link.host, port: link.port, timeoutMs: s.connectTimeoutMs };
  if (local) t.localAddress = local;
  if (s.keepAliveMs !== undefined) t.keepAliveMs = s.keepAliveMs;
  if (signal) t.signal = signal;
  if (link.spec.kind === 'tls') {
    const spec = link.spec;
    const context = deps.contexts(spec, deps.files());
    const sniKey = sni ?? '';
    const last = link.tlsSession;
    t.tls = {
      spec,
      context,
      alpn: offeredAlpn(spec.alpn, use),
      onPeer: (p, resumed) => { link.principal = resumed ? offered?.principal : p; },
      // Resumption skips the certificate exchange (the costly part of a handshake): only this host can resume
      // the session, whose certificate passed this same context's trust and this spec's SAN check when it was made.
      onSession: (ticket) => {
        link.tlsSession = { context, spec: spec.key, sni: sniKey, ticket, principal: offered?.principal ?? link.principal };
      },
    };
    const offered = last && last.context === context && last.spec === spec.key && last.sni === sniKey ? last : undefined;
    if (offered) t.tls.session = offered.ticket;
    if (sni) {
      t.tls.servername = sni;
      if (s.autoSanValidation) t.tls.verifyName = sni;
    }
  }
  return t;
}

/** An undici Pool to one host speaking `protocol` (HTTP/2 with prior knowledge over plaintext, or over TLS);
 * `sni` when the cluster derives SNI from the request's authority (auto_sni). */
export function createPool(link: HostLink, protocol: 'http1' | 'http2', deps: LinkDeps, sni?: string): Pool {
  const s = deps.settings();
  const connect: buildConnector.connector = (_opts, callback) => {
    let target: ConnectTarget;
    try {
      target = targetFor(link, deps, protocol, undefined, sni);
    } catch (err) {
      callback(err as Error, null);
      return;
    }
    openSocket(target).then((socket: Socket) => {
      // The cluster's protocol decides the codec, whatever ALPN settled on (in-mesh ALPN names `istio`).
      (socket as Socket & { alpnProtocol?: string }).alpnProtocol = protocol === 'http2' ? 'h2' : 'http/1.1';
      callback(null, socket);
    }, (err: Error) => callback(err, null));
  };
  return new Pool(`http://${hostAddress(link.host, link.port)}`, {
    connect,
    connections: s.maxConnections ?? null,
    pipelining: 1,
    allowH2: protocol === 'http2',
    ...(protocol === 'http2' ? { h2Options: { maxConcurrentStreams: s.maxConcurrentStreams } } : {}),
    // Route timeouts belong to the HTTP layer; undici's own would cut long streams short.
    headersTimeout: 0,
    bodyTimeout: 0,
    ...(s.idleTimeoutMs ? { keepAliveTimeout: s.idleTimeoutMs, keepAliveMaxTimeout: s.idleTimeoutMs } : {}),
    ...(s.maxRequestsPerConnection ? { maxRequestsPerClient: s.maxRequestsPerConnection } : {}),
  });
}

/** The SNI auto_sni derives from an authority: its host name without port or brackets; none for IP literals. */
export function sniFromAuthority(authority: string): string | undefined {
  const host = authority.startsWith('[') ? authority.slice(1, authority.indexOf(']')) : authority.replace(/:\d+$/, '');
  return host && isIP(host) === 0 ? host.toLowerCase() : undefined;
}
