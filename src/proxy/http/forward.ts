// The router for one request bound to a cluster. In: the Exchange and its ClusterAction; out: upstream tries
// through the cluster's undici dispatcher with the response streamed back downstream. Covers circuit breakers
// (UO), host selection (UH) with the hash key and previous hosts, the route timeout (504 UT), per-try timeouts,
// retries with back-off and the retry budget (URX when exhausted), connect failures (UF) and resets (UC),
// mirrors, trailers (gRPC), and outcome reports for outlier detection. Request bodies are buffered only when a
// retry or a mirror may need to replay them, and only up to the buffer limit; otherwise they stream.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import type { ClusterRuntime, LbContext } from '../runtime.ts';
import type { ClusterAction, RetrySummary } from '../routing/types.ts';
import { Attempt } from './attempt.ts';
import type { AttemptOwner } from './attempt.ts';
import { exchangeOf } from './exchange.ts';
import type { DownstreamResponse, Exchange } from './exchange.ts';
import { hashKey } from './hash-key.ts';
import { applyHeaderOps, firstValue, stripHopByHop } from './headers.ts';
import type { HeaderBag } from './headers.ts';
import { mirror } from './mirror.ts';
import { backoffMs, retriableFailure, retriableResponse } from './retry-policy.ts';
import type { AttemptFailure } from './retry-policy.ts';
import { propagateTrace } from './trace.ts';

const RESET_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: ';

function onDownstreamDrain(this: DownstreamResponse): void {
  exchangeOf(this)?.forward?.resumeUpstream();
}

function onRetryTimer(f: Forward): void {
  const release = f.retryRelease;
  f.retryTimer = f.retryRelease = undefined;
  if (f.cancelled) release?.();
  else f.dispatchAttempt(release);
}

function onPerTryTimeout(f: Forward, a: Attempt): void {
  a.timer = undefined;
  f.perTryTimeout(a);
}

function onRouteTimeout(f: Forward): void {
  f.routeTimer = undefined;
  f.routeTimeout();
}

export class Forward implements AttemptOwner {
  readonly ex: Exchange;
  readonly action: ClusterAction;
  cluster: ClusterRuntime | undefined = undefined;
  headers: HeaderBag = {};
  path = '/';
  method = 'GET';
  body: Buffer | Readable | null = null;
  replayable = true;
  retry: RetrySummary | undefined = undefined;
  retries = 0;
  lb: LbContext = {};
  attempted: Set<string> | undefined = undefined;
  setCookie: string | undefined = undefined;
  current: Attempt | undefined = undefined;
  paused: Attempt | undefined = undefined;
  retryTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** The retry budget slot of the retry waiting for its back-off. */
  retryRelease: (() => void) | undefined = undefined;
  routeTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** The response head went downstream: no more retries, failures reset the stream. */
  streaming = false;
  cancelled = false;

  constructor(ex: Exchange, action: ClusterAction) {
    this.ex = ex;
    this.action = action;
  }

  start(): void {
    const ex = this.ex;
    const rt = ex.shared.runtime;
    const action = this.action;
    const cluster = rt.clusters.get(action.cluster);
    if (!cluster) return ex.reply({ status: 503, body: 'cluster not found' }, ['NC']);
    this.cluster = ex.cluster = cluster;
    const release = cluster.admitRequest();
    if (!release) return ex.reply({ status: 503, body: RESET_BODY + 'overflow' }, ['UO']);
    ex.releaseRequest = release;
    const request = ex.request!;
    this.method = request.method;
    this.prepareHeaders();
    if (action.hashPolicy) {
      const hk = hashKey(action.hashPolicy, request, ex.ctx.info.sourceIp, rt.random);
      if (hk.key !== undefined) this.lb.hashKey = hk.key;
      this.setCookie = hk.setCookie;
    }
    const info = ex.ctx.info;
    if (info.destinationIp) this.lb.originalDestination = info.destinationIp.includes(':') ? `[${info.destinationIp}]:${info.port}` : `${info.destinationIp}:${info.port}`;
    const retry = action.retry;
    if (retry && retry.numRetries > 0) {
      this.retry = retry;
      if (retry.hostPredicates?.some((p) => p.endsWith('previous_hosts'))) this.attempted = new Set();
    }
    this.readBody();
  }

  private prepareHeaders(): void {
    const ex = this.ex;
    const h: HeaderBag = this.action.upstreamHeaders ?? {};
    this.path = (h[':path'] as string | undefined) ?? ex.request!.path;
    const authority = (h[':authority'] as string | undefined) ?? ex.request!.authority;
    delete h[':path'];
    delete h[':authority'];
    stripHopByHop(h, ex.grpc);
    delete h.expect;
    h.host = authority;
    if (h['x-forwarded-proto'] === undefined) h['x-forwarded-proto'] = ex.request!.scheme;
    let rid = firstValue(h['x-request-id']);
    if (!rid) h['x-request-id'] = rid = randomUUID();
    ex.requestId = rid;
    ex.trace = propagateTrace(h, ex.shared.runtime.random);
    forwardClientCert(h, ex);
    this.headers = h;
  }

  private readBody(): void {
    const ex = this.ex;
    const req = ex.req;
    const hasBody = ex.http2 ? !(req as Http2ServerRequest).stream.endAfterHeaders
      : req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) return this.go();
    if (!this.retry && !this.action.mirrors) return this.stream(req);
    const limit = ex.shared.bufferLimit;
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      chunks.push(c);
      if (size <= limit) return;
      // Too big to replay: stream what was read and the rest, without retries or mirrors.
      req.off('data', onData);
      req.off('end', onEnd);
      req.pause();
      const pt = new PassThrough();
      for (const b of chunks) pt.write(b);
      req.pipe(pt);
      this.stream(pt);
    };
    const onEnd = () => {
      ex.requestBytes = size;
      this.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      this.go();
    };
    req.on('data', onData);
    req.on('end', onEnd);
  }

  private stream(body: Readable): void {
    this.body = body;
    this.replayable = false;
    // onBodySent counts every byte that reaches the upstream, the ones read ahead included.
    this.ex.requestBytes = 0;
    this.go();
  }

  private go(): void {
    if (this.cancelled) return;
    const ex = this.ex;
    const rt = ex.shared.runtime;
    if (this.action.mirrors && this.replayable) {
      mirror(rt, this.action.mirrors, this.method, this.path, this.headers as Record<string, string | string[]>, this.body as Buffer | null, this.lb);
    }
    let t = this.action.timeoutMs ?? 15_000;
    if (ex.grpc) {
      // Translation sets max_stream_duration.grpc_timeout_header_max to 0 on every route: a gRPC request's own
      // grpc-timeout is its timeout, uncapped.
      const g = grpcTimeoutMs(firstValue(ex.req.headers['grpc-timeout']));
      if (g !== undefined) t = g;
    }
    if (t > 0) this.routeTimer = setTimeout(onRouteTimeout, t, this);
    this.dispatchAttempt(undefined);
  }

  dispatchAttempt(releaseRetry: (() => void) | undefined): void {
    const ex = this.ex;
    const cluster = this.cluster!;
    if (this.attempted) this.lb.attempted = this.attempted;
    const host = cluster.pick(this.lb);
    if (!host) {
      releaseRetry?.();
      return ex.reply({ status: 503, body: 'no healthy upstream' }, this.retries > 0 ? ['UH', 'URX'] : ['UH']);
    }
    ex.host = host;
    const a = new Attempt(this, host, ex.shared.runtime.now());
    a.releaseRetry = releaseRetry;
    this.current = a;
    const perTry = this.retry?.perTryTimeoutMs;
    if (perTry) a.timer = setTimeout(onPerTryTimeout, perTry, this, a);
    if (this.action.autoHostRewrite) this.headers.host = host.host;
    try {
      cluster.dispatcher(host).dispatch({ path: this.path, method: this.method, headers: this.headers as Record<string, string>, body: this.body }, a);
    } catch (err) {
      a.onResponseError(undefined as never, err as Error);
    }
  }

  private tryRetry(): boolean {
    const retry = this.retry;
    if (!retry || this.retries >= retry.numRetries || !this.replayable || this.cancelled || this.streaming) return false;
    const release = this.cluster!.admitRetry();
    if (!release) return false;
    const prev = this.current;
    prev?.abandon();
    if (prev && this.attempted) this.attempted.add(prev.host.address);
    this.retries++;
    const rt = this.ex.shared.runtime;
    this.retryRelease = release;
    this.retryTimer = setTimeout(onRetryTimer, backoffMs(this.retries, rt.random()), this);
    return true;
  }

  attemptHeaders(a: Attempt, status: number, headers: HeaderBag): void {
    const ex = this.ex;
    const now = ex.shared.runtime.now();
    this.cluster!.report(a.host, { kind: 'response', status, latencyMs: now - a.startedAt });
    const grpcStatus = firstValue(headers['grpc-status']);
    if (this.retry && retriableResponse(this.retry, status, grpcStatus)) {
      if (this.tryRetry()) return;
      if (this.retries > 0) ex.flags.push('URX');
    }
    this.streaming = true;
    stripHopByHop(headers, false);
    if (this.action.responseHeaderOps) applyHeaderOps(headers, this.action.responseHeaderOps);
    if (ex.corsHeaders) Object.assign(headers, ex.corsHeaders);
    if (this.setCookie) {
      const cur = headers['set-cookie'];
      headers['set-cookie'] = cur === undefined ? this.setCookie : [...(typeof cur === 'string' ? [cur] : cur), this.setCookie];
    }
    ex.status = status;
    if (grpcStatus !== undefined) ex.grpcStatus = grpcStatus;
    const res = ex.res;
    if (ex.shared.draining && !ex.http2) (res as ServerResponse).shouldKeepAlive = false;
    (res as ServerResponse).writeHead(status, headers as Record<string, string | string[]>);
  }

  attemptData(a: Attempt, chunk: Buffer): void {
    const ex = this.ex;
    ex.responseBytes += chunk.length;
    if (!(ex.res as ServerResponse).write(chunk) && this.paused === undefined) {
      this.paused = a;
      a.pause();
      ex.res.once('drain', onDownstreamDrain);
    }
  }

  attemptBodySent(bytes: number): void {
    if (!this.replayable) this.ex.requestBytes += bytes;
  }

  resumeUpstream(): void {
    const a = this.paused;
    this.paused = undefined;
    a?.resume();
  }

  attemptEnd(_a: Attempt, trailers: HeaderBag): void {
    this.clearTimers();
    const ex = this.ex;
    if (hasKeys(trailers)) {
      stripHopByHop(trailers, false);
      const g = firstValue(trailers['grpc-status']);
      if (g !== undefined) ex.grpcStatus = g;
      ex.res.addTrailers(trailers as Record<string, string>);
    }
    ex.res.end();
  }

  attemptError(a: Attempt, err: Error): void {
    const ex = this.ex;
    const latencyMs = ex.shared.runtime.now() - a.startedAt;
    if (a.responded) {
      this.cluster!.report(a.host, { kind: 'reset', latencyMs });
      this.resetDownstream('UC');
      return;
    }
    const failure: AttemptFailure = !a.connected ? 'connect-failure' : refusedStream(err) ? 'refused-stream' : 'reset';
    this.cluster!.report(a.host, { kind: failure === 'connect-failure' ? 'connect-failure' : 'reset', latencyMs });
    const retriable = this.retry !== undefined && retriableFailure(this.retry, failure);
    if (retriable && this.tryRetry()) return;
    const flags = failure === 'connect-failure' ? ['UF' as const] : ['UC' as const];
    if (retriable && this.retries > 0) flags.push('URX' as never);
    ex.reply({ status: 503, body: RESET_BODY + (failure === 'connect-failure' ? 'connection failure' : 'connection termination') }, flags);
  }

  perTryTimeout(a: Attempt): void {
    if (a.done) return;
    const ex = this.ex;
    this.cluster!.report(a.host, { kind: 'timeout', latencyMs: ex.shared.runtime.now() - a.startedAt });
    if (a.responded) return this.resetDownstream('UT');
    a.abandon();
    const retriable = this.retry !== undefined && retriableFailure(this.retry, 'per-try-timeout');
    if (retriable && this.tryRetry()) return;
    ex.reply({ status: 504, body: 'upstream request timeout' }, retriable && this.retries > 0 ? ['UT', 'URX'] : ['UT']);
  }

  routeTimeout(): void {
    const a = this.current;
    if (a && !a.done) {
      this.cluster!.report(a.host, { kind: 'timeout', latencyMs: this.ex.shared.runtime.now() - a.startedAt });
    }
    if (this.streaming) return this.resetDownstream('UT');
    this.ex.reply({ status: 504, body: 'upstream request timeout' }, ['UT']);
  }

  private resetDownstream(flag: 'UC' | 'UT'): void {
    const ex = this.ex;
    ex.flags.push(flag);
    ex.resetByProxy = true;
    this.cancel();
    ex.res.destroy();
  }

  private clearTimers(): void {
    if (this.routeTimer !== undefined) clearTimeout(this.routeTimer);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.routeTimer = this.retryTimer = undefined;
    const release = this.retryRelease;
    this.retryRelease = undefined;
    release?.();
  }

  /** Stops everything upstream (local reply, downstream gone). */
  cancel(): void {
    this.cancelled = true;
    this.clearTimers();
    this.current?.abandon();
  }
}

const XFCC_MODES = ['SANITIZE', 'FORWARD_ONLY', 'APPEND_FORWARD', 'SANITIZE_SET', 'ALWAYS_FORWARD_ONLY'];

/** x-forwarded-client-cert per the connection manager's forward_client_cert_details: without an mTLS peer the
 * header is dropped (unless forwarded as is); APPEND_FORWARD / SANITIZE_SET add By (this workload) and URI (the
 * peer) elements. */
function forwardClientCert(h: HeaderBag, ex: Exchange): void {
  const v = ex.hcm?.forwardClientCertDetails;
  const mode = typeof v === 'number' ? XFCC_MODES[v] ?? 'SANITIZE' : typeof v === 'string' ? v : 'SANITIZE';
  if (mode === 'FORWARD_ONLY' || mode === 'ALWAYS_FORWARD_ONLY') return;
  const peer = ex.ctx.tls?.peerPrincipal;
  if (!peer || mode === 'SANITIZE') {
    delete h['x-forwarded-client-cert'];
    return;
  }
  const by = ex.shared.runtime.live.identity()?.spiffeId;
  const element = `${by ? `By=${by};` : ''}URI=${peer}`;
  const cur = firstValue(h['x-forwarded-client-cert']);
  h['x-forwarded-client-cert'] = mode === 'APPEND_FORWARD' && cur ? `${cur},${element}` : element;
}

const GRPC_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** grpc-timeout: 1 to 8 digits and a unit (H, M, S, m, u, n). */
export function grpcTimeoutMs(v: string | undefined): number | undefined {
  if (v === undefined || v.length < 2 || v.length > 9) return undefined;
  const unit = GRPC_UNITS[v[v.length - 1]!];
  const n = Number(v.slice(0, -1));
  if (unit === undefined || !Number.isInteger(n) || n < 0) return undefined;
  return Math.max(1, Math.ceil(n * unit));
}

function hasKeys(o: object): boolean {
  for (const k in o) return k !== undefined;
  return false;
}

function refusedStream(err: Error): boolean {
  const e = err as Error & { code?: string };
  return e.code === 'ERR_HTTP2_STREAM_ERROR' && e.message.includes('REFUSED_STREAM');
}
