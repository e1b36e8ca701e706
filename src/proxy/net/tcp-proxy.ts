// The tcp_proxy network filter: a downstream connection and its TCP plan in; a cluster picked (weighted
// clusters with the runtime's random value), a host picked by the cluster's load balancer (the original
// destination for ORIGINAL_DST clusters such as PassthroughCluster, the source IP as the hash key), a connection
// opened through the ClusterManager, bytes piped both ways with half-close and the idle timeout; out: TcpRecords
// (open at connect, close at the end, with byte counts and response flags) and the outcome reported to the
// cluster. Bytes read by protocol detection (`head`, e.g. a ClientHello for TLS passthrough) go upstream first,
// unchanged. The network filters before tcp_proxy run first (authz/connection.ts): a connection RBAC denies is
// closed before any upstream is picked, with a record whose termination details name the policy (no response
// flag, as Envoy); an ext_authz filter the connection's metadata enables asks its authorizer first — no upstream
// is contacted until the answer (what the downstream sends meanwhile is held, up to 1 MiB, and goes first), a
// denial or failed call closes it with flag UAEX (ext_authz_denied / ext_authz_error), a downstream that leaves
// meanwhile cancels the call (DC).
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { peers } from '../http/record.ts';
import type { ConnectionPlan } from '../routing/engine.ts';
import { durationMs, u32 } from '../routing/envoy-values.ts';
import type { UpstreamCluster } from '../routing/types.ts';
import type { ClusterRuntime, ConnContext, ResponseFlag, Runtime, TcpRecord, UpstreamHost } from '../runtime.ts';
import { enforceNetworkFilters } from '../authz/connection.ts';
import type { NetworkDenial } from '../authz/connection.ts';
import { hostAddress } from '../upstream/endpoints.ts';

type TcpPlan = Extract<ConnectionPlan, { kind: 'tcp' }>;

/** Envoy's tcp_proxy idle_timeout default. */
const DEFAULT_TCP_IDLE_TIMEOUT_MS = 60 * 60 * 1000;
// translate/names.ts has the same name; the sidecar does not load translation modules (cli-proxy-modules test).
const BLACKHOLE_CLUSTER = 'BlackHoleCluster';

/** Bytes held from a downstream while an authorizer decides (Envoy's default per-connection buffer limit). */
const HOLD_LIMIT_BYTES = 1024 * 1024;

// The plan's pick resolves endpoints only for simulate(); the cluster manager has them already.
const stub = (name: string): UpstreamCluster => ({ name, found: true, endpoints: [], excluded: [] });

export function proxyTcp(runtime: Runtime, ctx: ConnContext, plan: TcpPlan, downstream: Socket | Duplex, head: Buffer): void {
  const started = runtime.now();
  const action = plan.pick(runtime.random(), stub);
  const cluster = action.cluster ? runtime.clusters.get(action.cluster) : undefined;
  const base = { startTime: Date.now(), downstreamRemote: ctx.downstreamRemote, upstreamCluster: action.cluster };
  const record = (flags: ResponseFlag[], c?: ClusterRuntime, host?: UpstreamHost): Omit<TcpRecord, 'sentBytes' | 'receivedBytes'> => ({
    ...base, ...peers(runtime, ctx, c, host), flags, ...(host ? { upstreamHost: host.address } : {}),
  });
  // What was read from the downstream before an upstream is picked (protocol detection, bytes held during an
  // authorizer call), and whether it half-closed meanwhile.
  let first = head;
  let ended = false;
  const refuse = (flag: ResponseFlag, c?: ClusterRuntime) => {
    const r = { ...record([flag], c), sentBytes: 0, receivedBytes: first.length };
    runtime.telemetry.tcpOpen({ ...r, receivedBytes: 0 });
    runtime.telemetry.tcpClose({ ...r, durationMs: runtime.now() - started });
    downstream.destroy();
  };
  const denied = (authz: NetworkDenial) => {
    const r = { ...record(authz.flags, cluster), sentBytes: 0, receivedBytes: first.length, details: authz.details };
    runtime.telemetry.tcpOpen({ ...r, receivedBytes: 0 });
    runtime.telemetry.tcpClose({ ...r, durationMs: runtime.now() - started });
    downstream.destroy();
  };
  const go = () => {
    if (!cluster) return refuse('NC');
    if (action.cluster === BLACKHOLE_CLUSTER) return refuse('UH', cluster);
    connectUpstream(runtime, ctx, plan, downstream, { head: first, ended }, cluster, started, record, refuse);
  };
  if (plan.networkFilters.length === 0) return go();
  const checking = new AbortController();
  const authz = enforceNetworkFilters(plan.networkFilters, ctx, runtime, checking.signal);
  if (!(authz instanceof Promise)) return authz.allowed ? go() : denied(authz);
  // An authorizer is asked. What the downstream sends meanwhile is held (reading stops at HOLD_LIMIT_BYTES) and
  // goes upstream first once allowed; reading is what notices a downstream that leaves, which cancels the call.
  const held: Buffer[] = [first];
  let heldBytes = first.length;
  let gone = false;
  const onData = (c: Buffer) => {
    held.push(c);
    heldBytes += c.length;
    if (heldBytes >= HOLD_LIMIT_BYTES) downstream.pause();
  };
  const onEnd = () => { ended = true; };
  const onGone = () => { gone = true; checking.abort(); };
  downstream.on('data', onData);
  downstream.once('end', onEnd);
  downstream.once('close', onGone);
  downstream.on('error', () => downstream.destroy());
  void authz.then((a) => {
    downstream.off('data', onData);
    downstream.off('end', onEnd);
    downstream.off('close', onGone);
    downstream.pause();
    first = held.length === 1 ? first : Buffer.concat(held, heldBytes);
    if (gone) return refuse('DC', cluster);
    if (a.allowed) go();
    else denied(a);
  });
}

type RecordOf = (flags: ResponseFlag[], c?: ClusterRuntime, host?: UpstreamHost) => Omit<TcpRecord, 'sentBytes' | 'receivedBytes'>;

/** What the downstream sent before the upstream connection: bytes, and whether it half-closed after them. */
interface Head {
  head: Buffer;
  ended: boolean;
}

function connectUpstream(
  runtime: Runtime, ctx: ConnContext, plan: TcpPlan, downstream: Socket | Duplex, first: Head, cluster: ClusterRuntime,
  started: number, record: RecordOf, refuse: (flag: ResponseFlag, c?: ClusterRuntime) => void,
): void {
  const tp = plan.tcpProxy;
  const idleMs = durationMs(tp.idleTimeout) ?? DEFAULT_TCP_IDLE_TIMEOUT_MS;
  const attempts = Math.max(1, u32(tp.maxConnectAttempts) ?? 1);
  const lb = {
    ...(ctx.info.destinationIp ? { originalDestination: hostAddress(ctx.info.destinationIp, ctx.info.port) } : {}),
    ...(ctx.info.sourceIp ? { hashKey: ctx.info.sourceIp } : {}),
  };
  const abort = new AbortController();
  let downstreamGone = false;
  const onEarlyClose = () => {
    downstreamGone = true;
    abort.abort();
  };
  downstream.once('close', onEarlyClose);
  downstream.on('error', () => downstream.destroy());

  void (async () => {
    const attempted = new Set<string>();
    for (let i = 0; i < attempts; i++) {
      const host = cluster.pick({ ...lb, attempted });
      if (!host) return refuse(i === 0 ? 'UH' : 'UF', cluster);
      attempted.add(host.address);
      const t0 = runtime.now();
      let upstream: Socket;
      try {
        upstream = await cluster.connect(host, abort.signal);
      } catch {
        cluster.report(host, { kind: 'connect-failure', latencyMs: runtime.now() - t0 });
        if (downstreamGone) return refuse('DC', cluster);
        continue;
      }
      if (downstreamGone) {
        upstream.destroy();
        cluster.report(host, { kind: 'response', status: 200, latencyMs: runtime.now() - t0 });
        return refuse('DC', cluster);
      }
      downstream.off('close', onEarlyClose);
      pipe(runtime, downstream, upstream, first, idleMs, record([], cluster, host), started, (outcome) => cluster.report(host, { ...outcome, latencyMs: runtime.now() - t0 }));
      return;
    }
    refuse('UF', cluster);
  })();
}

type End = { kind: 'response'; status: number } | { kind: 'reset' | 'timeout' };

function pipe(
  runtime: Runtime, down: Socket | Duplex, up: Socket, { head, ended }: Head, idleMs: number,
  rec: Omit<TcpRecord, 'sentBytes' | 'receivedBytes'>, started: number, report: (o: End) => void,
): void {
  up.allowHalfOpen = true;
  let received = head.length;
  let sent = 0;
  const flags = new Set<ResponseFlag>(rec.flags);
  runtime.telemetry.tcpOpen({ ...rec, sentBytes: 0, receivedBytes: 0 });
  const idle = idleMs > 0 ? setTimeout(() => { timedOut = true; up.destroy(); down.destroy(); }, idleMs) : undefined;
  idle?.unref();
  let timedOut = false;
  let upReset = false;
  let closed = 0;
  const onClose = () => {
    if (++closed < 2) return;
    if (idle) clearTimeout(idle);
    report(timedOut ? { kind: 'timeout' } : upReset ? { kind: 'reset' } : { kind: 'response', status: 200 });
    if (upReset) flags.add('UC');
    runtime.telemetry.tcpClose({ ...rec, flags: [...flags], sentBytes: sent, receivedBytes: received, durationMs: runtime.now() - started });
  };
  down.on('data', (c: Buffer) => { received += c.length; idle?.refresh(); });
  up.on('data', (c: Buffer) => { sent += c.length; idle?.refresh(); });
  // A reset on one side resets the other; a clean end (FIN) is passed on as a half-close by pipe().
  down.on('error', () => up.destroy());
  up.on('error', () => { upReset = true; down.destroy(); });
  down.once('close', () => { if (!up.writableEnded) up.destroy(); onClose(); });
  up.once('close', () => { if (!down.writableEnded) down.destroy(); onClose(); });
  if (head.length > 0) up.write(head);
  // A downstream that half-closed while held: its end goes upstream after its bytes.
  if (ended) up.end();
  else down.pipe(up);
  up.pipe(down);
}
