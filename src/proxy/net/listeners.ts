// The sidecar's listening sockets, per the `weft proxy` flags: capture listeners (15001 outbound, 15006
// inbound) that read each connection's original destination with SO_ORIGINAL_DST and refuse one that was not
// redirected (capture-destination.ts); explicit listeners that accept as if captured with a fixed original
// destination; gateway listeners bound at the config's own listener addresses, re-bound when the config's set of
// listeners changes (their TLS servers checked whenever config, identity or credentials change:
// gateway-tls-check.ts). Every accepted connection goes through
// handleConnection (detection, plan, TLS, TCP proxy or HTTP handler).
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { listenerAddress } from '../routing/filter-chain.ts';
import { bool, str } from '../routing/envoy-values.ts';
import type { HttpHandler, Runtime } from '../runtime.ts';
import { captureDestination, type Endpoint } from './capture-destination.ts';
import { handleConnection, plainIp } from './connection.ts';
import type { Accepted, ConnectionEnv, LogFn } from './connection.ts';
import { checkGatewayTls } from './gateway-tls-check.ts';
import { originalDestination } from './original-dst.ts';

export interface ExplicitListener {
  bindHost: string;
  bindPort: number;
  direction: 'outbound' | 'inbound';
  destinationIp: string;
  destinationPort: number;
}

export interface StartListenersOptions {
  capture: 'iptables' | 'none';
  outboundPort: number;
  inboundPort: number;
  explicit: ExplicitListener[];
  gateway: boolean;
  /** Address of the capture listeners; '::' (dual stack, falling back to 0.0.0.0) by default. */
  captureHost?: string;
  /** Protocol detection timeout in ms, overriding the listeners' listener_filters_timeout (0 = no timeout). */
  sniffTimeoutMs?: number;
  maxSniffBytes?: number;
  tlsHandshakeTimeoutMs?: number;
  log?: LogFn;
}

interface BoundListener {
  /** `outbound-capture`, `inbound-capture`, `explicit:<bind>`, or the config listener's name. */
  name: string;
  kind: 'capture' | 'explicit' | 'gateway';
  host: string;
  port: number;
}

export interface RunningListeners {
  /** Stops accepting new connections; open ones go on. */
  stopAccepting(): Promise<void>;
  /** Downstream connections still open. */
  connections(): number;
  /** Stops accepting and destroys every open connection. */
  close(): Promise<void>;
  bound(): BoundListener[];
}

type Resolve = (socket: Socket) => Accepted | undefined;

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Why a listener could not bind, in words that say what to do (the port named; the sysctl for low ports). */
export function bindFailure(e: NodeJS.ErrnoException, host: string, port: number): string {
  const at = `${host}:${port}`;
  if (e.code === 'EACCES' && port < 1024) {
    return `cannot bind gateway listener ${at}: port ${port} is privileged for this user; set the pod's sysctl `
      + 'net.ipv4.ip_unprivileged_port_start=0 (securityContext.sysctls) or grant CAP_NET_BIND_SERVICE';
  }
  if (e.code === 'EACCES') return `cannot bind gateway listener ${at}: permission denied`;
  if (e.code === 'EADDRINUSE') return `cannot bind gateway listener ${at}: port ${port} is already in use`;
  if (e.code === 'EADDRNOTAVAIL') return `cannot bind gateway listener ${at}: ${host} is not an address of this host`;
  return `cannot bind gateway listener ${at}: ${e.message}`;
}

export async function startListeners(runtime: Runtime, http: HttpHandler, options: StartListenersOptions): Promise<RunningListeners> {
  const log: LogFn = options.log ?? (() => {});
  const env: ConnectionEnv = {
    runtime, http, log,
    ...(options.sniffTimeoutMs !== undefined ? { sniffTimeoutMs: options.sniffTimeoutMs } : {}),
    ...(options.maxSniffBytes !== undefined ? { maxSniffBytes: options.maxSniffBytes } : {}),
    ...(options.tlsHandshakeTimeoutMs !== undefined ? { tlsHandshakeTimeoutMs: options.tlsHandshakeTimeoutMs } : {}),
  };
  const sockets = new Set<Socket>();
  const servers = new Map<string, { server: Server; bound: BoundListener }>();
  let accepting = true;

  const open = async (key: string, name: string, kind: BoundListener['kind'], host: string, port: number, resolve: Resolve) => {
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      const a = resolve(socket);
      if (!a) {
        socket.destroy();
        return;
      }
      handleConnection(env, socket, a).catch((e: unknown) => {
        log('error', 'connection handling failed', { error: (e as Error).message });
        socket.destroy();
      });
    });
    try {
      await listen(server, host, port);
    } catch (e) {
      if (host !== '::' || !['EAFNOSUPPORT', 'EADDRNOTAVAIL'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
      await listen(server, '0.0.0.0', port);
    }
    const addr = server.address() as AddressInfo;
    servers.set(key, { server, bound: { name, kind, host: addr.address, port: addr.port } });
  };

  if (options.capture === 'iptables') {
    const capturePorts = new Set([options.outboundPort, options.inboundPort]);
    const captured = (direction: 'outbound' | 'inbound'): Resolve => (socket) => {
      let original: Endpoint | Error;
      try {
        original = originalDestination(socket);
      } catch (e) {
        original = e as Error;
      }
      const d = captureDestination(original, { address: socket.localAddress, port: socket.localPort }, capturePorts);
      if (d.kind === 'refused') {
        log('debug', d.reason === 'not-redirected'
          ? 'refused a connection that was not redirected: its destination is this listener itself'
          : 'refused a connection to the proxy\'s own capture port', { destination: d.destination });
        return undefined;
      }
      return { kind: direction, direction, destinationIp: d.ip, port: d.port };
    };
    const host = options.captureHost ?? '::';
    await open('capture:outbound', 'outbound-capture', 'capture', host, options.outboundPort, captured('outbound'));
    await open('capture:inbound', 'inbound-capture', 'capture', host, options.inboundPort, captured('inbound'));
  }

  for (const e of options.explicit) {
    const a: Accepted = { kind: e.direction, direction: e.direction, destinationIp: e.destinationIp, port: e.destinationPort };
    await open(`explicit:${e.bindHost}:${e.bindPort}`, `explicit:${e.bindHost}:${e.bindPort}`, 'explicit', e.bindHost, e.bindPort, () => a);
  }

  const syncGateway = async () => {
    const config = runtime.live.current()?.config;
    const want = new Map<string, { name: string; ip: string; port: number }>();
    for (const l of config?.listeners ?? []) {
      const at = listenerAddress(l);
      if (!at || !bool(l.bindToPort, true) || bool(l.useOriginalDst, false)) continue;
      want.set(`gateway:${at.ip}:${at.port}`, { name: str(l.name), ip: at.ip, port: at.port });
    }
    for (const [key, s] of servers) {
      if (key.startsWith('gateway:') && !want.has(key)) {
        s.server.close();
        servers.delete(key);
        log('info', 'gateway listener closed', { listener: s.bound.name, port: s.bound.port });
      }
    }
    if (!accepting) return;
    for (const [key, w] of want) {
      if (servers.has(key)) continue;
      const resolve: Resolve = (socket) => ({ kind: 'gateway', direction: 'outbound', destinationIp: plainIp(socket.localAddress) ?? w.ip, port: w.port });
      try {
        await open(key, w.name, 'gateway', w.ip, w.port, resolve);
        log('info', 'gateway listener bound', { listener: w.name, address: `${w.ip}:${w.port}` });
      } catch (e) {
        log('error', bindFailure(e as NodeJS.ErrnoException, w.ip, w.port), { listener: w.name, address: `${w.ip}:${w.port}`, error: (e as Error).message });
      }
    }
  };
  let unsubscribe = () => {};
  if (options.gateway) {
    await syncGateway();
    checkGatewayTls(runtime, log);
    let running = Promise.resolve();
    unsubscribe = runtime.live.onChange((what) => {
      if (what === 'config') running = running.then(syncGateway);
      running = running.then(() => void checkGatewayTls(runtime, log));
    });
  }

  const stopAccepting = async () => {
    accepting = false;
    unsubscribe();
    for (const { server } of servers.values()) server.close();
    servers.clear();
  };
  return {
    stopAccepting,
    connections: () => sockets.size,
    close: async () => {
      await stopAccepting();
      for (const s of sockets) s.destroy();
    },
    bound: () => [...servers.values()].map((s) => s.bound),
  };
}
