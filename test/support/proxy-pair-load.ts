// Apps and a bounded load for the mTLS pair tests. In: ports; out: an app that answers `<name> <path>` and records
// what it saw (path, x-forwarded-client-cert, peak concurrency; `/slow` waits 40 ms), a one-shot request, and a
// load of `total` requests from `concurrency` workers over keep-alive connections with a new connection every
// `newConnectionEvery` requests, running hooks when a given count of requests has finished.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface App {
  port: number;
  seen: Array<{ path: string; xfcc?: string }>;
  peakConcurrency: number;
  close(): Promise<void>;
}

export async function startApp(name: string): Promise<App> {
  let active = 0;
  const app: App = { port: 0, seen: [], peakConcurrency: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    active++;
    app.peakConcurrency = Math.max(app.peakConcurrency, active);
    const xfcc = req.headers['x-forwarded-client-cert'];
    app.seen.push({ path: req.url ?? '', ...(typeof xfcc === 'string' ? { xfcc } : {}) });
    const answer = () => {
      active--;
      res.end(`${name} ${req.url}`);
    };
    if (req.url?.startsWith('/slow')) setTimeout(answer, 40);
    else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  app.port = (server.address() as AddressInfo).port;
  app.close = () => new Promise((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return app;
}

export function request(port: number, path: string, o: { host?: string; agent?: http.Agent | false } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: o.host ?? '127.0.0.1', port, path, headers: { host: 'web:8080' }, agent: o.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}

export interface LoadResult {
  ok: number;
  failures: number;
  errors: string[];
  /** Answers by app name. */
  bodies: Map<string, number>;
}

export async function runLoad(port: number, o: { total: number; concurrency: number; newConnectionEvery: number;
  at?: Record<number, () => void> }): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const result: LoadResult = { ok: 0, failures: 0, errors: [], bodies: new Map() };
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < o.total) {
      const i = next++;
      try {
        const r = await request(port, `/load/${i}`, { agent: i % o.newConnectionEvery === 0 ? false : agent });
        if (r.status === 200) {
          result.ok++;
          const name = r.body.split(' ')[0]!;
          result.bodies.set(name, (result.bodies.get(name) ?? 0) + 1);
        } else {
          result.failures++;
          if (result.errors.length < 10) result.errors.push(`#${i}: ${r.status} ${r.body.slice(0, 80)}`);
        }
      } catch (e) {
        result.failures++;
        if (result.errors.length < 10) result.errors.push(`#${i}: ${(e as Error).message}`);
      }
      done++;
      o.at?.[done]?.();
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  agent.destroy();
  return result;
}
