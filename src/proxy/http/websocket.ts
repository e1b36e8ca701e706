// HTTP/1.1 upgrades (WebSocket) when the connection manager's upgrade_configs allow the type: the request is
// routed like any other, then the proxy opens a raw connection to the picked host (cluster.connect, with the
// cluster's TLS), writes the request head (headers as upstream-request.ts builds them for any forwarded request),
// and splices the two sockets; the host's 101 and everything after it flows through untouched. Upgrades of other
// types, or when none is configured, get 403 as in Envoy. The connection manager's HTTP filters (RBAC, …) run
// before the router as for any request (filters/chain.ts): an upgrade is no way around them, nor around the
// network filters (RBAC, ext_authz) in front of the connection manager.
import { STATUS_CODES } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ConnContext, HttpRecord, ResponseFlag } from '../runtime.ts';
import type { Action } from '../routing/types.ts';
import { arr, str } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import type { ConnectionPlan } from '../routing/engine.ts';
import { connectionNetworkAuthz } from '../authz/connection.ts';
import type { NetworkAuthz } from '../authz/connection.ts';
import { FilterRun, httpChain } from './filters/chain.ts';
import { firstValue, toHttpRequest } from './headers.ts';
import { edgeForwardedProto } from '../routing/request.ts';
import { peers } from './record.ts';
import type { Shared } from './shared.ts';
import { upstreamRequest } from './upstream-request.ts';
import type { UpstreamSource } from './upstream-request.ts';

function upgradeAllowed(hcm: Obj, type: string): boolean {
  return arr(hcm.upgradeConfigs).some((u) => str(u.upgradeType).toLowerCase() === type);
}

function refuse(socket: Duplex, status: number, extra = ''): void {
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-length: 0\r\nconnection: close\r\n${extra}\r\n`);
}

export function handleUpgrade(shared: Shared, ctx: ConnContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const rt = shared.runtime;
  const t0 = rt.now();
  const startTime = Date.now();
  const type = (firstValue(req.headers.upgrade) ?? '').toLowerCase();
  const plan = ctx.plan();
  const scheme = ctx.tls ? 'https' : 'http';
  const edge = plan.kind === 'http' && edgeForwardedProto(plan.hcm);
  const request = toHttpRequest(req.headers, req.method ?? 'GET', req.url ?? '/', scheme, ctx.kind !== 'outbound', edge);
  const flags: ResponseFlag[] = [];
  const rec = (status: number, extra: Partial<HttpRecord> = {}, p = peers(rt, ctx, undefined, undefined)): void => {
    rt.telemetry.http({
      ...p, startTime, durationMs: rt.now() - t0, method: request.method, authority: request.authority, path: request.path,
      requestProtocol: 'http', httpVersion: 'HTTP/1.1', status, flags, requestBytes: 0, responseBytes: 0,
      downstreamRemote: ctx.downstreamRemote, ...extra,
    });
  };
  let details: string | undefined;
  const fail = (status: number, flag?: ResponseFlag, extra = ''): void => {
    if (flag) flags.push(flag);
    refuse(socket, status, extra);
    rec(status, details !== undefined ? { details } : {});
  };
  if (plan.kind !== 'http') return fail(503);
  if (plan.networkFilters.length > 0) {
    // Network filters in front of the connection manager (RBAC, ext_authz) decide for the connection first.
    const decided = (a: NetworkAuthz): void => {
      if (a.allowed) return upgradeFiltered(shared, ctx, req, socket, head, type, request, plan, flags, fail, rec, (d) => { details = d; });
      details = a.details;
      for (const f of a.flags) flags.push(f);
      fail(a.by === 'unsupported' ? 500 : 403);
    };
    const authz = connectionNetworkAuthz(plan.networkFilters, ctx, rt);
    if (authz instanceof Promise) void authz.then((a) => { if (!socket.destroyed) decided(a); });
    else decided(authz);
    return;
  }
  upgradeFiltered(shared, ctx, req, socket, head, type, request, plan, flags, fail, rec, (d) => { details = d; });
}

/** The upgrade's HTTP filters, then the router. */
function upgradeFiltered(
  shared: Shared, ctx: ConnContext, req: IncomingMessage, socket: Duplex, head: Buffer, type: string, request: ReturnType<typeof toHttpRequest>,
  plan: Extract<ConnectionPlan, { kind: 'http' }>, flags: ResponseFlag[], fail: Fail, rec: Rec, setDetails: (d: string | undefined) => void,
): void {
  const rt = shared.runtime;
  if (!upgradeAllowed(plan.hcm, type)) return fail(403);
  const result = plan.route(request, rt.random(), shared.upstreamStub);
  const chain = result.beforeFilters ? undefined : httpChain(plan.httpFilters, rt);
  if (chain === undefined || chain.stages.length === 0 || (chain.needed !== undefined && !chain.needed(result))) return upgradeRouted(shared, ctx, req, socket, head, type, request, plan.hcm, result.action, fail, rec, undefined);
  let answered = false;
  const run: FilterRun = new FilterRun(chain, {
    get answered() { return answered || socket.destroyed; },
    filterReply(r, fl) {
      answered = true;
      setDetails(run.details);
      const extra = Object.entries({ ...r.headers, ...run.addedResponseHeaders }).map(([k, v]) => `${k}: ${String(v)}\r\n`).join('');
      for (const f of fl) flags.push(f);
      fail(r.status, undefined, extra);
    },
    filterFlag(f) { flags.push(f); },
    filterFailed() {
      answered = true;
      fail(500);
    },
    routerStep() {
      answered = true;
      upgradeRouted(shared, ctx, req, socket, head, type, request, plan.hcm, result.action, fail, rec, run);
    },
  }, rt, ctx, request, result);
  run.step();
}

type Fail = (status: number, flag?: ResponseFlag, extra?: string) => void;
type Rec = (status: number, extra?: Partial<HttpRecord>, p?: ReturnType<typeof peers>) => void;

/** The router's part of an upgrade, once the filters let it through. */
function upgradeRouted(
  shared: Shared, ctx: ConnContext, req: IncomingMessage, socket: Duplex, head: Buffer, type: string, request: ReturnType<typeof toHttpRequest>,
  hcm: Obj, action: Action, fail: Fail, rec: Rec, run: FilterRun | undefined,
): void {
  const rt = shared.runtime;
  const t0 = rt.now();
  if (action.kind === 'no-route') return fail(404, 'NR');
  if (action.kind === 'redirect') return fail(action.status, undefined, `location: ${action.location}\r\n`);
  if (action.kind !== 'cluster') return fail(action.kind === 'direct' ? action.status : 503);
  const cluster = rt.clusters.get(action.cluster);
  if (!cluster) return fail(503, 'NC');
  const release = cluster.admitRequest();
  if (!release) return fail(503, 'UO');
  const host = cluster.pick({});
  if (!host) {
    release();
    return fail(503, 'UH');
  }
  // The same upstream headers as a forwarded request (Host, x-forwarded-*, x-request-id, trace context,
  // x-forwarded-client-cert), then the upgrade's own hop-by-hop pair.
  if (run && action.upstreamHeaders) run.applyHeaderEdits(action.upstreamHeaders);
  const source: UpstreamSource = { shared, ctx, request, hcm, grpc: false, requestId: undefined, trace: undefined };
  const { headers: h, path } = upstreamRequest(source, action);
  h.connection = 'Upgrade';
  h.upgrade = firstValue(req.headers.upgrade) ?? type;
  let text = `${request.method} ${path} HTTP/1.1\r\n`;
  for (const k in h) {
    const v = h[k];
    if (v === undefined) continue;
    for (const one of typeof v === 'string' ? [v] : v) text += `${k}: ${one}\r\n`;
  }
  text += '\r\n';
  const ac = new AbortController();
  socket.once('close', () => ac.abort());
  cluster.connect(host, ac.signal).then((up) => {
    if (socket.destroyed) {
      up.destroy();
      release();
      return;
    }
    up.write(text);
    if (head.length > 0) up.write(head);
    socket.pipe(up);
    up.pipe(socket);
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      socket.destroy();
      up.destroy();
      release();
      cluster.report(host, { kind: 'response', status: 101, latencyMs: rt.now() - t0 });
      rec(101, { upstreamCluster: action.cluster, upstreamHost: host.address }, peers(rt, ctx, cluster, host));
    };
    up.on('close', close);
    up.on('error', close);
    socket.on('close', close);
    socket.on('error', close);
  }, () => {
    release();
    cluster.report(host, { kind: 'connect-failure', latencyMs: rt.now() - t0 });
    fail(503, 'UF');
  });
}
