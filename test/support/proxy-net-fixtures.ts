// Test fixtures for the listener tests: a Runtime around a swappable config (the real cluster manager, a
// FileSource map, telemetry that records TCP records), an echo server that tags its replies, TLS backends that
// answer their name and the SNI they saw, free loopback ports, and startListeners inputs for TCP-only tests.
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { compileProxy } from '../../src/proxy/routing/engine.ts';
import type { StartListenersOptions } from '../../src/proxy/net/listeners.ts';
import type { HttpHandler, Identity, LoadedConfig, Runtime, TcpRecord, Telemetry, HttpRecord } from '../../src/proxy/runtime.ts';
import { createClusterManager } from '../../src/proxy/upstream/index.ts';
import type { WeftClusterManager } from '../../src/proxy/upstream/index.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { mapFiles } from './proxy-upstream-fixtures.ts';

class NetTelemetry implements Telemetry {
  readonly opened: TcpRecord[] = [];
  readonly closed: TcpRecord[] = [];
  readonly httpRecords: HttpRecord[] = [];
  http(r: HttpRecord): void { this.httpRecords.push(r); }
  tcpOpen(r: TcpRecord): void { this.opened.push(r); }
  tcpClose(r: TcpRecord): void { this.closed.push(r); }
  configRejected(): void {}
  configAccepted(): void {}
}

export interface NetRuntime extends Runtime {
  telemetry: NetTelemetry;
  clusters: WeftClusterManager;
  files: ReturnType<typeof mapFiles>;
  setConfig(pc: ProxyConfig): LoadedConfig;
  setIdentity(id: Identity | undefined): void;
}

export function netRuntime(pc: ProxyConfig, files: Record<string, string> = {}): NetRuntime {
  const fileSource = mapFiles(files);
  let current: LoadedConfig | undefined;
  let identity: Identity | undefined;
  const listeners = new Set<(what: 'config' | 'identity') => void>();
  const clusters = createClusterManager({ local: pc.workload });
  let version = 0;
  const rt: NetRuntime = {
    live: {
      current: () => current,
      identity: () => identity,
      files: fileSource,
      onChange: (l) => { listeners.add(l); return () => listeners.delete(l); },
    },
    clusters,
    telemetry: new NetTelemetry(),
    local: pc.workload,
    random: Math.random,
    now: () => performance.now(),
    files: fileSource,
    setConfig(next) {
      current = { version: `v${++version}`, config: next, compiled: compileProxy(next), loadedAt: new Date() };
      clusters.update(current, fileSource);
      for (const l of listeners) l('config');
      return current;
    },
    setIdentity(id) {
      identity = id;
      for (const l of listeners) l('identity');
    },
  };
  rt.setConfig(pc);
  return rt;
}

/** The HTTP handler of tests that exercise TCP paths only: a connection handed to it is closed. */
export const noHttp: HttpHandler = { serve: (s) => s.destroy(), drain: async () => {}, inFlight: () => 0 };

/** startListeners options without capture: one explicit loopback listener on a free port that accepts as if
 * captured in `direction` towards `destinationIp:destinationPort`. */
export function explicitListener(
  direction: 'outbound' | 'inbound', destinationIp: string, destinationPort: number, extra: Partial<StartListenersOptions> = {},
): StartListenersOptions {
  return {
    capture: 'none', outboundPort: 15001, inboundPort: 15006, gateway: false,
    explicit: [{ bindHost: '127.0.0.1', bindPort: 0, direction, destinationIp, destinationPort }], ...extra,
  };
}

export interface Closable {
  port: number;
  address: string;
  close(): Promise<void>;
}

function track(server: Server | TlsServer): { sockets: Set<Socket>; close(): Promise<void> } {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return { sockets, close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }) };
}

async function listening(server: Server | TlsServer, close: () => Promise<void>): Promise<Closable> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { port, address: `127.0.0.1:${port}`, close };
}

/** Echoes what it reads, prefixed once with `<tag>:`, and half-closes when the client does. */
export async function echoServer(tag: string): Promise<Closable & { connections: number }> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    out.connections++;
    s.write(`${tag}:`);
    s.pipe(s);
  });
  const out = Object.assign(await listening(server, track(server).close), { connections: 0 });
  return out;
}

/** A TLS server answering `<name> sni=<servername>` then closing. */
export async function tlsBackend(name: string, cert: string, key: string): Promise<Closable> {
  const server = createTlsServer({ cert, key }, (s: TLSSocket) => {
    s.end(`${name} sni=${(s as TLSSocket & { servername?: string }).servername ?? ''}`);
  });
  return listening(server, track(server).close);
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Reads a socket to its end (or close) and returns the text. */
export function readAll(s: Socket | TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    s.on('data', (d: Buffer) => { text += d.toString(); });
    s.on('error', () => {});
    s.once('close', () => resolve(text));
  });
}
