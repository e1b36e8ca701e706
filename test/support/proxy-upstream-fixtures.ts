// Fixtures for the upstream tests: a seeded random source, host entries, a FileSource over a map, real
// HTTP servers on 127.0.0.1:0 that say who they are, and LoadedConfig wrappers around hand-built clusters.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FileSource, LoadedConfig } from '../../src/proxy/runtime.ts';
import type { CompiledProxy } from '../../src/proxy/routing/engine.ts';
import { newHostEntry } from '../../src/proxy/upstream/types.ts';
import type { HostEntry } from '../../src/proxy/upstream/types.ts';
import { proxyConfig } from './envoy-objects.ts';

type O = Record<string, unknown>;

export { seeded } from './random.ts';

export function hosts(n: number, weight = 1): HostEntry[] {
  return Array.from({ length: n }, (_, i) => newHostEntry({ address: `10.0.0.${i + 1}:80`, host: `10.0.0.${i + 1}`, port: 80, metadata: {} }, weight));
}

export function countBy<T>(items: readonly T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return m;
}

export function mapFiles(entries: Record<string, string>): FileSource & { set(path: string, content: string): void } {
  const m = new Map(Object.entries(entries));
  return { read: (p) => m.get(p), set: (p, c) => { m.set(p, c); } };
}

export interface NamedServer {
  server: Server;
  port: number;
  address: string;
  requests: number;
  close(): Promise<void>;
}

/** An HTTP/1.1 server answering `name` (or what `handler` decides). */
export async function namedServer(name: string, handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<NamedServer> {
  const s: NamedServer = {
    server: createServer((req, res) => {
      s.requests++;
      if (handler) handler(req, res); else res.end(name);
    }),
    port: 0,
    address: '',
    requests: 0,
    close: () => new Promise((r) => { s.server.closeAllConnections(); s.server.close(() => r()); }),
  };
  await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
  s.port = (s.server.address() as AddressInfo).port;
  s.address = `127.0.0.1:${s.port}`;
  return s;
}

export function staticCluster(name: string, addresses: string[], extra: O = {}): O {
  return {
    name,
    type: 'STATIC',
    connectTimeout: { seconds: 1 },
    loadAssignment: {
      clusterName: name,
      endpoints: [{
        lbEndpoints: addresses.map((a) => {
          const [ip, port] = a.split(':');
          return { endpoint: { address: { socketAddress: { address: ip, portValue: Number(port) } } } };
        }),
      }],
    },
    ...extra,
  };
}

export function loaded(clusters: O[], endpoints: O[] = [], version = 'v1'): LoadedConfig {
  return { version, config: proxyConfig({ clusters, endpoints }), compiled: {} as CompiledProxy, loadedAt: new Date(0) };
}
