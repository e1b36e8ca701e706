// One downstream request from arrival to its telemetry record. In: node's request/response objects (HTTP/1.1
// or the HTTP/2 compatibility API) and the connection's ConnContext; out: a routing decision executed — local
// replies (no route, redirect, direct response, closed listener) or a Forward to the upstream cluster — after the
// connection manager's HTTP filter chain (filters/chain.ts: fault, CORS, RBAC, …) let the request through, and one
// HttpRecord to Telemetry when the response is done or the downstream went away. When a filter cleared the route
// cache (jwt_authn on a gateway) and some route matches on dynamic metadata, the route is chosen again with the
// metadata the filters wrote (the same random value, the path as already normalised).
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { ClusterRuntime, ConnContext, HttpRecord, ResponseFlag, UpstreamHost } from '../runtime.ts';
import { edgeForwardedProto } from '../routing/request.ts';
import type { HttpRequest } from '../routing/request.ts';
import type { ClusterAction } from '../routing/types.ts';
import type { ConnectionPlan, RouteResult } from '../routing/engine.ts';
import { connectionNetworkAuthz } from '../authz/connection.ts';
import type { NetworkAuthz } from '../authz/connection.ts';
import { FilterRun, httpChain } from './filters/chain.ts';
import type { ChainOwner } from './filters/chain.ts';
import type { DynamicMetadata } from './filters/types.ts';
import { RBAC_DENIED_BODY } from './filters/rbac.ts';
import { Forward } from './forward.ts';
import { firstValue, toHttpRequest } from './headers.ts';
import { grpcStatusForHttp, sendLocalReply } from './local-reply.ts';
import type { DownstreamResponse, LocalReply } from './local-reply.ts';
import { peers } from './record.ts';
import { prereadRequestBody } from './request-body.ts';
import type { Shared } from './shared.ts';
import type { TraceIds } from './trace.ts';

type DownstreamRequest = IncomingMessage | Http2ServerRequest;

const kExchange = Symbol('weft.exchange');
const MAX_HEADERS = 100;

interface Tagged { [kExchange]?: Exchange }

export function exchangeOf(o: object): Exchange | undefined {
  return (o as Tagged)[kExchange];
}

function onResponseClose(this: DownstreamResponse): void {
  exchangeOf(this)?.closed();
}

export class Exchange implements ChainOwner {
  readonly shared: Shared;
  readonly ctx: ConnContext;
  readonly req: DownstreamRequest;
  readonly res: DownstreamResponse;
  readonly http2: boolean;
  readonly t0: number;
  readonly startTime: number;
  request: HttpRequest | undefined = undefined;
  /** The connection manager's config (x-forwarded-client-cert handling). */
  hcm: Record<string, unknown> | undefined = undefined;
  route: string | undefined = undefined;
  clusterName: string | undefined = undefined;
  cluster: ClusterRuntime | undefined = undefined;
  host: UpstreamHost | undefined = undefined;
  flags: ResponseFlag[] = [];
  status = 0;
  grpc = false;
  grpcStatus: string | undefined = undefined;
  requestBytes = 0;
  responseBytes = 0;
  requestId: string | undefined = undefined;
  trace: TraceIds | undefined = undefined;
  forward: Forward | undefined = undefined;
  /** Response headers the filters (CORS, …) add to the response. */
  corsHeaders: Record<string, string> | undefined = undefined;
  /** The request's walk through the HTTP filters (undefined when the chain is only the router). */
  filters: FilterRun | undefined = undefined;
  routeResult: RouteResult | undefined = undefined;
  /** The connection manager's plan and the random value the route was chosen with (for choosing it again). */
  private httpPlan: Extract<ConnectionPlan, { kind: 'http' }> | undefined = undefined;
  private routeRandom = 0;
  /** Response code details set outside the filter chain (a network RBAC denial). */
  details: string | undefined = undefined;
  releaseRequest: (() => void) | undefined = undefined;
  /** The proxy itself reset the downstream stream (upstream failure mid-response): not a DC. */
  resetByProxy = false;
  done = false;

  constructor(shared: Shared, ctx: ConnContext, req: DownstreamRequest, res: DownstreamResponse, http2: boolean) {
    this.shared = shared;
    this.ctx = ctx;
    this.req = req;
    this.res = res;
    this.http2 = http2;
    this.t0 = shared.runtime.now();
    this.startTime = Date.now();
    (res as Tagged)[kExchange] = this;
    res.on('close', onResponseClose);
    shared.inFlight++;
  }

  run(): void {
    const plan = this.ctx.plan();
    if (plan.kind !== 'http') {
      this.reply({ status: 503, body: 'no HTTP route configuration for this connection' }, [], true);
      return;
    }
    this.hcm = plan.hcm;
    if (plan.networkFilters.length > 0) {
      // Network filters before the connection manager (RBAC, ext_authz): their verdict is the connection's; a
      // denied connection gets no further request through. An authorizer is asked once per connection.
      const authz = connectionNetworkAuthz(plan.networkFilters, this.ctx, this.shared.runtime);
      if (authz instanceof Promise) {
        authz.then((a) => { if (!this.done && this.networkAllowed(a)) this.runRequest(plan); }).catch((err: unknown) => this.filterFailed(err));
        return;
      }
      if (!this.networkAllowed(authz)) return;
    }
    this.runRequest(plan);
  }

  /** The network filters' verdict; a denial is answered here (and the connection closed). */
  private networkAllowed(authz: NetworkAuthz): boolean {
    if (authz.allowed) return true;
    this.details = authz.details;
    if (authz.by === 'rbac') this.reply({ status: 403, body: RBAC_DENIED_BODY }, [], true);
    else if (authz.by === 'ext_authz') this.reply({ status: 403 }, [...authz.flags], true);
    else this.reply({ status: 500, body: `network filter "${authz.filter}" is not supported by this proxy` }, [], true);
    return false;
  }

  private runRequest(plan: Extract<ConnectionPlan, { kind: 'http' }>): void {
    const h = this.req.headers;
    // Envoy's max_headers_count (100) and header size limit answer 431. HTTP/1.1 sizes are enforced by the
    // parser; node's HTTP/2 server only advertises its limit, so it is checked here.
    if (this.http2 ? headerBytes(h) > this.shared.maxHeaderSize : this.req.rawHeaders.length > MAX_HEADERS * 2) {
      this.reply({ status: 431, body: 'request headers too large' }, [], true);
      return;
    }
    let path = this.http2 ? (h[':path'] as string | undefined) ?? '/' : this.req.url ?? '/';
    const scheme = this.ctx.tls ? 'https' : 'http';
    let absoluteAuthority: string | undefined;
    if (path.charCodeAt(0) !== 47 /* / */) {
      // Absolute-form targets (RFC 9112 3.2.2) carry the authority; anything else but OPTIONS * is malformed.
      const abs = absoluteForm(path);
      if (abs) {
        absoluteAuthority = abs.authority;
        path = abs.path;
      } else if (!(path === '*' && this.req.method === 'OPTIONS')) {
        this.reply({ status: 400, body: 'invalid request target' }, [], true);
        return;
      }
    }
    const request = toHttpRequest(h, this.req.method ?? 'GET', path, scheme, this.ctx.kind !== 'outbound', edgeForwardedProto(plan.hcm));
    if (absoluteAuthority !== undefined) request.authority = absoluteAuthority;
    this.request = request;
    const ct = firstValue(h['content-type']);
    this.grpc = ct !== undefined && ct.startsWith('application/grpc');
    this.routeRandom = this.shared.runtime.random();
    const result = plan.route(request, this.routeRandom, this.shared.upstreamStub);
    this.httpPlan = plan;
    this.routed(result);
    const chain = result.beforeFilters ? undefined : httpChain(plan.httpFilters, this.shared.runtime);
    if (chain === undefined || chain.stages.length === 0 || (chain.needed !== undefined && !chain.needed(result))) {
      this.routerStep();
      return;
    }
    this.filters = new FilterRun(chain, this, this.shared.runtime, this.ctx, request, result);
    this.filters.step();
  }

  private routed(result: RouteResult): void {
    this.route = result.route;
    this.routeResult = result;
    this.clusterName = result.action.kind === 'cluster' ? result.action.cluster : undefined;
  }

  /** A filter cleared the route cache: the route again, with the metadata written so far (when any route reads it). */
  reroute(metadata: DynamicMetadata): RouteResult | undefined {
    const plan = this.httpPlan;
    if (!plan?.routesByMetadata || !this.request) return undefined;
    const result = plan.reroute(this.request, this.routeRandom, metadata, this.shared.upstreamStub);
    this.routed(result);
    return result;
  }

  /** The router: executes the route's action once every filter let the request through. */
  routerStep(): void {
    const action = this.routeResult!.action;
    switch (action.kind) {
      case 'no-route': this.reply({ status: 404 }, ['NR']); return;
      case 'redirect': this.reply({ status: action.status, headers: { location: action.location } }, []); return;
      case 'direct': this.reply({ status: action.status, ...(action.body !== undefined ? { body: action.body } : {}) }, []); return;
      case 'closed': this.reply({ status: 503, body: action.reason }, [], true); return;
      case 'cluster': this.toCluster(action); return;
    }
  }

  private toCluster(action: ClusterAction): void {
    const run = this.filters;
    if (run) {
      const added = run.addedResponseHeaders;
      if (added) this.corsHeaders = added;
      if (action.upstreamHeaders) run.applyHeaderEdits(action.upstreamHeaders);
    }
    this.forward = new Forward(this, action);
    this.forward.start();
  }

  get answered(): boolean {
    return this.done || this.status !== 0;
  }

  filterReply(r: LocalReply, flags: readonly ResponseFlag[], raw: boolean): void {
    this.reply(r, flags as ResponseFlag[], false, raw);
  }

  readBody(maxBytes: number, allowPartial: boolean): Promise<{ body: Buffer; partial: boolean } | 'too-large'> {
    return prereadRequestBody(this, maxBytes, allowPartial);
  }

  filterFlag(f: ResponseFlag): void {
    this.flags.push(f);
  }

  filterFailed(err: unknown): void {
    this.forward?.cancel();
    this.reply({ status: 500, body: `internal proxy error: ${(err as Error)?.message ?? String(err)}` }, []);
  }

  /** A response made by the proxy; for gRPC requests a trailers-only gRPC status unless `raw` (CORS preflights). */
  reply(r: LocalReply, flags: ResponseFlag[], close = false, raw = false): void {
    if (this.done) return;
    for (const f of flags) this.flags.push(f);
    if (this.grpc && r.grpcStatus === undefined && !raw) r = { ...r, grpcStatus: grpcStatusForHttp(r.status) };
    const added = this.corsHeaders ?? this.filters?.addedResponseHeaders;
    if (added) r = { ...r, headers: { ...r.headers, ...added } };
    this.status = r.grpcStatus !== undefined ? 200 : r.status;
    if (r.grpcStatus !== undefined) this.grpcStatus = String(r.grpcStatus);
    this.forward?.cancel();
    this.responseBytes += sendLocalReply(this.res, r, close || (this.shared.draining && !this.http2));
  }

  /** The downstream response ended (finished or the connection went away). */
  closed(): void {
    if (this.done) return;
    if (!this.res.writableFinished && !this.resetByProxy) {
      this.flags.push('DC');
      this.forward?.cancel();
    }
    this.finish();
  }

  private finish(): void {
    this.done = true;
    if (this.releaseRequest) this.releaseRequest();
    const shared = this.shared;
    shared.runtime.telemetry.http(this.record());
    if (--shared.inFlight === 0 && shared.onIdle) shared.onIdle();
  }

  private record(): HttpRecord {
    const rt = this.shared.runtime;
    const host = this.host;
    const req = this.request;
    const h = this.req.headers;
    const who = peers(rt, this.ctx, this.cluster, host);
    const rec: HttpRecord = {
      reporter: who.reporter,
      source: who.source,
      destination: who.destination,
      connectionSecurityPolicy: who.connectionSecurityPolicy,
      startTime: this.startTime,
      durationMs: rt.now() - this.t0,
      method: this.req.method ?? '',
      authority: req?.authority ?? '',
      path: req?.path ?? '',
      requestProtocol: this.grpc ? 'grpc' : 'http',
      httpVersion: this.http2 ? 'HTTP/2' : `HTTP/${this.req.httpVersion}`,
      status: this.status,
      flags: this.flags,
      requestBytes: this.requestBytes,
      responseBytes: this.responseBytes,
      downstreamRemote: this.ctx.downstreamRemote,
    };
    if (this.grpcStatus !== undefined) rec.grpcStatus = this.grpcStatus;
    if (this.route !== undefined) rec.route = this.route;
    if (this.clusterName) rec.upstreamCluster = this.clusterName;
    if (host) rec.upstreamHost = host.address;
    if (this.requestId) rec.requestId = this.requestId;
    if (this.trace) {
      rec.traceId = this.trace.traceId;
      rec.spanId = this.trace.spanId;
    }
    const ua = firstValue(h['user-agent']);
    if (ua) rec.userAgent = ua;
    const run = this.filters;
    const details = this.details ?? run?.details;
    if (details !== undefined) rec.details = details;
    if (run) {
      const hints = run.hintsIfAny;
      if (hints) {
        rec.logHints = hints;
        if (hints.audit !== undefined) rec.audit = hints.audit;
      }
    }
    return rec;
  }
}

function headerBytes(h: Record<string, string | string[] | undefined>): number {
  let n = 0;
  for (const k in h) {
    const v = h[k];
    if (typeof v === 'string') n += k.length + v.length;
    else if (v) for (const one of v) n += k.length + one.length;
  }
  return n;
}

function absoluteForm(target: string): { authority: string; path: string } | undefined {
  const start = target.startsWith('http://') ? 7 : target.startsWith('https://') ? 8 : -1;
  if (start < 0) return undefined;
  const slash = target.indexOf('/', start);
  const authority = slash < 0 ? target.slice(start) : target.slice(start, slash);
  if (authority === '' || authority.includes('@')) return undefined;
  return { authority, path: slash < 0 ? '/' : target.slice(slash) };
}
