// Test fixtures for the HTTP handler: a small ClusterManager over fixed loopback addresses (round robin that
// honours previous hosts, request/retry limits, undici Pools or h2c clients), a Runtime around a ProxyConfig,
// a proxy front (net server → handler.serve with a planned ConnContext) and a recording Telemetry.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { H2CClient, Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { createHttpHandler } from '../../src/proxy/http/index.ts';
import type { HttpHandlerOptions } from '../../src/proxy/http/index.ts';
import { connContext as listenerConnContext } from '../../src/proxy/net/conn-context.ts';
import { compileProxy } from '../../src/proxy/routing/engine.ts';
import type {
  ClusterManager, ClusterRuntime, ConnContext, HttpHandler, HttpRecord, LbContext, Runtime, Telemetry, UpstreamHost, UpstreamOutcome,
} from '../../src/proxy/runtime.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';

interface FixtureClusterOptions {
  h2c?: boolean;
  maxRequests?: number;
  maxRetries?: number;
  metadata?: Record<string, string>;
  service?: { host: string; name: string; namespace: string };
}

export class FixtureCluster implements ClusterRuntime {
  readonly name: string;
  readonly service?: { host: string; name: string; namespace: string };
  readonly connectTimeoutMs = 1000;
  readonly hosts: UpstreamHost[];
  readonly opts: FixtureClusterOptions;
  readonly pools = new Map<string, Dispatcher>();
  readonly reports: Array<{ host: string; outcome: UpstreamOutcome }> = [];
  readonly picks: LbContext[] = [];
  active = 0;
  retries = 0;
  private next = 0;

  constructor(name: string, addresses: string[], opts: FixtureClusterOptions = {}) {
    this.name = name;
    this.opts = opts;
    if (opts.service) this.service = opts.service;
    this.hosts = addresses.map((address) => {
      const i = address.lastIndexOf(':');
      return { address, host: address.slice(0, i), port: Number(address.slice(i + 1)), metadata: opts.metadata ?? {} };
    });
  }

  pick(ctx: LbContext): UpstreamHost | undefined {
    this.picks.push({ ...ctx, ...(ctx.attempted ? { attempted: new Set(ctx.attempted) } : {}) });
    if (this.hosts.length === 0) return undefined;
    for (let i = 0; i < this.hosts.length; i++) {
      const h = this.hosts[(this.next + i) % this.hosts.length]!;
      if (!ctx.attempted?.has(h.address)) {
        this.next = (this.next + i + 1) % this.hosts.length;
        return h;
      }
    }
    return this.hosts[this.next++ % this.hosts.length];
  }

  admitRequest(): (() => void) | undefined {
    if (this.opts.maxRequests !== undefined && this.active >= this.opts.maxRequests) return undefined;
    this.active++;
    return () => { this.active--; };
  }

  admitRetry(): (() => void) | undefined {
    if (this.opts.maxRetries !== undefined && this.retries >= this.opts.maxRetries) return undefined;
    this.retries++;
    return () => { this.retries--; };
  }

  dispatcher(host: UpstreamHost): Dispatcher {
    let d = this.pools.get(host.address);
    if (!d) {
      const origin = `http://${host.address}`;
      d = this.opts.h2c ? new H2CClient(origin) : new Pool(origin, { connections: 16 });
      this.pools.set(host.address, d);
    }
    return d;
  }

  connect(host: UpstreamHost): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = net.connect(host.port, host.host);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  report(host: UpstreamHost, outcome: UpstreamOutcome): void {
    this.reports.push({ host: host.address, outcome });
  }

  peerPrincipal(): string | undefined {
    return undefined;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.destroy()));
  }
}

export class FixtureClusters implements ClusterManager {
  readonly map = new Map<string, FixtureCluster>();

  add(c: FixtureCluster): FixtureCluster {
    this.map.set(c.name, c);
    return c;
  }

  get(name: string): ClusterRuntime | undefined {
    return this.map.get(name);
  }

  update(): void {}

  async close(): Promise<void> {
    await Promise.all([...this.map.values()].map((c) => c.close()));
  }
}

class RecordingTelemetry implements Telemetry {
  readonly records: HttpRecord[] = [];
  http(r: HttpRecord): void { this.records.push(r); }
  tcpOpen(): void {}
  tcpClose(): void {}
  configRejected(): void {}
  configAccepted(): void {}
}

/** A random source returning the given values in turn, then `fallback`. */
export function sequence(values: number[], fallback = 0.5): () => number {
  let i = 0;
  return () => (i < values.length ? values[i++]! : fallback);
}

export function makeRuntime(config: ProxyConfig, clusters: ClusterManager, random: () => number = Math.random): Runtime & { telemetry: RecordingTelemetry } {
  const loaded = { version: 'test', config, compiled: compileProxy(config), loadedAt: new Date() };
  return {
    live: { current: () => loaded, identity: () => undefined, files: { read: () => undefined }, onChange: () => () => {} },
    clusters,
    telemetry: new RecordingTelemetry(),
    local: config.workload,
    random: () => random(),
    now: () => performance.now(),
  };
}

export interface ProxyFront {
  port: number;
  handler: HttpHandler;
  close(): Promise<void>;
}

/** The ConnContext a listener would build (net/conn-context.ts) for a connection captured on `routePort`. */
export function connContext(
  runtime: Runtime, protocol: 'http1' | 'http2', routePort: number, socket: net.Socket,
  opts: { kind?: ConnContext['kind']; tls?: ConnContext['tls']; destinationIp?: string } = {},
): ConnContext {
  const info = { direction: opts.kind === 'inbound' ? 'inbound' as const : 'outbound' as const, destinationIp: opts.destinationIp ?? '10.0.0.1', port: routePort, sourceIp: '127.0.0.1', http: protocol };
  const ctx = listenerConnContext(runtime, opts.kind ?? 'outbound', info, `${socket.remoteAddress}:${socket.remotePort}`);
  if (opts.tls) ctx.tls = opts.tls;
  return ctx;
}

/** A loopback listener that hands each connection to the handler as if captured on `routePort`. */
export async function startProxy(
  runtime: Runtime, protocol: 'http1' | 'http2', routePort: number,
  opts: { kind?: ConnContext['kind']; options?: HttpHandlerOptions; tls?: ConnContext['tls']; destinationIp?: string } = {},
): Promise<ProxyFront> {
  const handler = createHttpHandler(runtime, opts.options);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    handler.serve(socket, connContext(runtime, protocol, routePort, socket, opts), protocol);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    handler,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

export interface Upstream {
  port: number;
  address: string;
  hits: IncomingMessage[];
  bodies: string[];
  close(): Promise<void>;
}

/** A node:http server on loopback; the handler sees each request with its body read. */
export async function startUpstream(handle: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<Upstream> {
  const hits: IncomingMessage[] = [];
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      bodies.push(body);
      handle(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    hits,
    bodies,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
