// The sidecar's admin endpoint (127.0.0.1:15000 by default). In: HTTP requests. Out: readiness (/ready and the
// /healthz/ready alias: 200 "LIVE" once config and listeners are up, 503 before and while draining), the
// redacted /config_dump, /stats/prometheus, /server_info, and POST /quitquitquit which starts drain-and-exit
// (how a Job's proxy is told that the app is done).
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LiveConfig } from '../runtime.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../telemetry/registry.ts';
import { probeApp, type AppProber } from './app-probes.ts';
import { configDump } from './redact.ts';

export type ServerState = 'PRE_INITIALIZING' | 'LIVE' | 'DRAINING';

export interface AdminOptions {
  host: string;
  port: number;
  live: LiveConfig;
  state(): ServerState;
  /** The Prometheus text of the proxy's metrics. */
  metrics(): string;
  /** POST /quitquitquit: called once, after the response is sent. */
  onQuit(): void;
}

export interface AdminServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

export async function startAdmin(opts: AdminOptions): Promise<AdminServer> {
  let quitting = false;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (path === '/quitquitquit') {
      if (method !== 'POST') return send(res, 405, 'use POST\n');
      send(res, 200, 'OK\n');
      if (!quitting) {
        quitting = true;
        res.on('finish', () => setImmediate(opts.onQuit));
      }
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') return send(res, 405, 'use GET\n');
    switch (path) {
      case '/ready':
      case '/healthz/ready': {
        const state = opts.state();
        return send(res, state === 'LIVE' ? 200 : 503, `${state}\n`);
      }
      case '/config_dump':
        return send(res, 200, `${JSON.stringify(configDump(opts.live.current()), null, 2)}\n`, 'application/json');
      case '/stats/prometheus':
      case '/metrics':
        return send(res, 200, opts.metrics(), PROMETHEUS_CONTENT_TYPE);
      case '/server_info': {
        const id = opts.live.identity();
        const c = opts.live.current();
        return send(res, 200, `${JSON.stringify({
          state: opts.state(),
          configVersion: c?.version ?? null,
          workload: c ? `${c.config.workload.namespace}/${c.config.workload.name}` : null,
          identity: id ? { spiffeId: id.spiffeId, notAfter: id.notAfter.toISOString() } : null,
        })}\n`, 'application/json');
      }
      default:
        return send(res, 404, 'admin endpoints: /ready /healthz/ready /config_dump /stats/prometheus /server_info POST /quitquitquit\n');
    }
  };
  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      if (!res.headersSent) send(res, 500, `${(e as Error).message}\n`);
      else res.destroy();
    }
  });
  server.keepAliveTimeout = 5000;
  return listen(server, opts.host, opts.port);
}

/**
 * A port reachable from outside the pod, serving only what cannot change the proxy: Istio's metrics port (15090,
 * /stats/prometheus), its health port (15021, /healthz/ready for the kubelet's probes) or its status port (15020,
 * the app's own probes, app-probes.ts). The admin endpoint, which
 * can stop the proxy, stays on loopback.
 */
export async function startPublicServer(opts: {
  host: string; port: number; metrics?(): string; state?(): ServerState; appProbes?: ReadonlyMap<string, AppProber>;
}): Promise<AdminServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const prober = opts.appProbes?.get(path);
    if (prober) {
      void probeApp(prober).then((status) => send(res, status, `${status}\n`));
      return;
    }
    if (opts.metrics && (path === '/stats/prometheus' || path === '/metrics')) return send(res, 200, opts.metrics(), PROMETHEUS_CONTENT_TYPE);
    if (opts.state && path === '/healthz/ready') {
      const state = opts.state();
      return send(res, state === 'LIVE' ? 200 : 503, `${state}\n`);
    }
    send(res, 404, `${opts.metrics ? '/stats/prometheus ' : ''}${opts.state ? '/healthz/ready ' : ''}${opts.appProbes ? '/app-health/…' : ''}\n`);
  });
  return listen(server, opts.host, opts.port);
}

/** Binds the server (a bind error rejects); closing it also ends idle keep-alive connections. */
async function listen(server: Server, host: string, port: number): Promise<AdminServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    host: addr.address,
    port: addr.port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
