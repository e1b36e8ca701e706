// The sidecar process wired together. In: directories, listener options, the parts (clusters, HTTP handler,
// listeners). Out: a running proxy: the admin endpoint at once (503 until ready), the live config watched, the
// clusters updated on every config or identity change, listeners started after the first valid config, and a
// graceful shutdown (SIGTERM or /quitquitquit): /ready turns 503, listeners stop accepting, in-flight HTTP
// requests and open connections get up to the drain timeout, then everything closes.
import type { Logger } from '../controllers/log.ts';
import { IDENTITY_DIR } from '../translate/identity-files.ts';
import type { AppProber } from './admin/app-probes.ts';
import { startAdmin, startPublicServer } from './admin/server.ts';
import type { AdminServer, ServerState } from './admin/server.ts';
import { startLiveConfig } from './config/live.ts';
import type { WatchedLiveConfig } from './config/live.ts';
import type { StartListenersOptions } from './net/listeners.ts';
import type { ClusterManager, HttpHandler, LiveConfig, LocalWorkload, Runtime } from './runtime.ts';
import { bufferedWriter } from './telemetry/access-log.ts';
import { createTelemetry } from './telemetry/istio.ts';
import type { SidecarTelemetry } from './telemetry/istio.ts';

/** The listeners as the `weft proxy` flags set them. */
export type ListenerOptions = Pick<StartListenersOptions, 'capture' | 'outboundPort' | 'inboundPort' | 'explicit' | 'gateway'>;

/** What the sidecar needs of the running listeners. */
export interface ListenerSet {
  /** Stops accepting new connections; open ones go on. */
  stopAccepting(): Promise<void>;
  /** Downstream connections still open. */
  connections(): number;
  /** Closes whatever is still open. */
  close(): Promise<void>;
  /** The sockets listening now (ports chosen by the system included). */
  bound?(): Array<{ name: string; host: string; port: number }>;
}

/** The factories of the proxy's parts (injected so tests and partial builds can replace them). */
export interface SidecarParts {
  clusters(deps: { local: LocalWorkload; now: () => number; random: () => number }): ClusterManager;
  http(runtime: Runtime): HttpHandler;
  listeners(runtime: Runtime, http: HttpHandler, opts: ListenerOptions): Promise<ListenerSet>;
}

export interface SidecarOptions {
  configDir: string;
  identityDir?: string;
  /** A gateway's credentials directory (SDS `kubernetes://<name>` secrets); undefined = none. */
  credentialsDir?: string;
  admin: { host: string; port: number };
  /** Istio's separate metrics port (0.0.0.0:15090 in Istio): /stats/prometheus only; undefined = not served. */
  prometheus?: { host: string; port: number };
  /** Istio's health port (0.0.0.0:15021 in pods): /healthz/ready only, for the kubelet; undefined = not served. */
  health?: { host: string; port: number };
  /** Istio's status port (0.0.0.0:15020 in pods): the app's probes by path (app-probes.ts); undefined = not served. */
  status?: { host: string; port: number; probers: ReadonlyMap<string, AppProber> };
  listeners: ListenerOptions;
  drainTimeoutMs: number;
  /** Access log sink (stdout in the CLI); undefined = off. */
  accessLog?: (chunk: string) => void;
  log: Logger;
  parts: SidecarParts;
  pollMs?: number;
  random?: () => number;
  now?: () => number;
}

export interface Sidecar {
  readonly admin: { host: string; port: number };
  readonly live: LiveConfig;
  readonly telemetry: SidecarTelemetry;
  state(): ServerState;
  /** The listening sockets once ready (empty before). */
  listeners(): Array<{ name: string; host: string; port: number }>;
  /** Resolves once config, clusters and listeners are up. */
  ready(): Promise<void>;
  /** Graceful drain and close; idempotent. */
  shutdown(reason: string): Promise<void>;
  /** Resolves when a shutdown (signal, /quitquitquit or shutdown()) has finished. */
  stopped(): Promise<void>;
}

const until = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export async function startSidecar(opts: SidecarOptions): Promise<Sidecar> {
  const log = opts.log;
  const telemetry = createTelemetry(opts.accessLog ? { accessLog: bufferedWriter(opts.accessLog) } : {});
  const live: WatchedLiveConfig = startLiveConfig({
    configDir: opts.configDir,
    ...(opts.identityDir ? { identityDir: opts.identityDir } : {}),
    ...(opts.credentialsDir ? { credentialsDir: opts.credentialsDir } : {}),
    telemetry,
    log: log.child('config'),
    ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
  });
  let state: ServerState = 'PRE_INITIALIZING';
  let clusters: ClusterManager | undefined;
  let http: HttpHandler | undefined;
  let listeners: ListenerSet | undefined;
  let stopping: Promise<void> | undefined;

  let markStopped: () => void = () => {};
  const stopped = new Promise<void>((r) => (markStopped = r));
  const shutdown = (reason: string): Promise<void> => (stopping ??= drain(reason).finally(markStopped));

  async function drain(reason: string): Promise<void> {
    const wasLive = state === 'LIVE';
    state = 'DRAINING';
    log.info('draining', { reason, timeoutMs: opts.drainTimeoutMs, inFlight: http?.inFlight() ?? 0, connections: listeners?.connections() ?? 0 });
    const deadline = Date.now() + opts.drainTimeoutMs;
    try {
      await listeners?.stopAccepting();
      if (http) await http.drain(opts.drainTimeoutMs);
      while (listeners && listeners.connections() > 0 && Date.now() < deadline) await until(20);
      const left = listeners?.connections() ?? 0;
      if (left > 0) log.warn('drain timeout: closing open connections', { connections: left });
      await listeners?.close();
      await clusters?.close();
    } catch (e) {
      log.error('drain failed', { error: e });
    }
    live.close();
    await admin.close();
    await metricsServer?.close();
    await healthServer?.close();
    await statusServer?.close();
    telemetry.close();
    log.info('stopped', { reason, wasLive });
  }

  let admin: AdminServer;
  try {
    admin = await startAdmin({
      host: opts.admin.host,
      port: opts.admin.port,
      live,
      state: () => state,
      metrics: () => telemetry.render(),
      onQuit: () => void shutdown('quitquitquit'),
    });
  } catch (e) {
    live.close();
    throw e;
  }
  log.info('admin listening', { host: admin.host, port: admin.port });
  let metricsServer: AdminServer | undefined;
  let healthServer: AdminServer | undefined;
  let statusServer: AdminServer | undefined;
  try {
    if (opts.status) {
      statusServer = await startPublicServer({ host: opts.status.host, port: opts.status.port, appProbes: opts.status.probers });
      log.info('status listening', { host: statusServer.host, port: statusServer.port, probes: opts.status.probers.size });
    }
    if (opts.prometheus) {
      metricsServer = await startPublicServer({ ...opts.prometheus, metrics: () => telemetry.render() });
      log.info('metrics listening', { host: metricsServer.host, port: metricsServer.port });
    }
    if (opts.health) {
      healthServer = await startPublicServer({ ...opts.health, state: () => state });
      log.info('health listening', { host: healthServer.host, port: healthServer.port });
    }
  } catch (e) {
    await statusServer?.close();
    await metricsServer?.close();
    await admin.close();
    live.close();
    throw e;
  }

  const bringUp = async (): Promise<void> => {
    const first = await live.ready();
    if (stopping) return;
    const local: LocalWorkload = first.config.workload;
    const random = opts.random ?? Math.random;
    const now = opts.now ?? (() => performance.now());
    clusters = opts.parts.clusters({ local, now, random });
    clusters.update(first, live.files);
    live.onChange(() => {
      const c = live.current();
      if (c && clusters && !stopping) clusters.update(c, live.files);
    });
    const runtime: Runtime = {
      live,
      clusters,
      telemetry,
      local,
      random,
      now,
    };
    http = opts.parts.http(runtime);
    listeners = await opts.parts.listeners(runtime, http, opts.listeners);
    if (stopping) {
      await listeners.close();
      return;
    }
    state = 'LIVE';
    if (!live.identity() && JSON.stringify(first.config.clusters).includes(`${IDENTITY_DIR}/`)) {
      log.warn('no workload identity loaded yet: mTLS to mesh peers fails until it is', { identityDir: opts.identityDir ?? null });
    }
    log.info('ready', { version: first.version, workload: `${local.namespace}/${local.name}`, listeners: listeners.bound?.() ?? [] });
  };
  const up = bringUp().catch(async (e: unknown) => {
    log.error('sidecar failed to start', { error: e });
    throw e;
  });
  // Avoid an unhandled rejection when nobody awaits ready(); the error is logged above.
  up.catch(() => {});

  return {
    admin: { host: admin.host, port: admin.port },
    live,
    telemetry,
    state: () => state,
    listeners: () => listeners?.bound?.() ?? [],
    ready: () => up,
    shutdown,
    stopped: () => stopped,
  };
}
