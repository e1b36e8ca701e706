// The router for one request bound to a cluster. In: the Exchange and its ClusterAction; out: upstream tries
// through the cluster's undici dispatcher, the answering try's response handed to ResponseWriter (a full
// downstream pauses the try). Covers circuit breakers (UO), host selection (UH) with the hash key and previous
// hosts, the route timeout (504 UT), per-try timeouts, retries with back-off and the retry budget (URX when
// exhausted), connect failures (UF) and resets (UC), mirrors, and outcome reports for outlier detection. Request bodies are buffered only when a
// retry or a mirror may need to replay them, and only up to the buffer limit; otherwise they stream.
import type { Readable } from 'node:stream';
import type { ClusterRuntime, LbContext, ResponseFlag } from '../runtime.ts';
import type { ClusterAction, RetrySummary } from '../routing/types.ts';
import { hostAddress } from '../upstream/endpoints.ts';
import { Attempt } from './attempt.ts';
import type { AttemptOwner } from './attempt.ts';
import { exchangeOf } from './exchange.ts';
import type { Exchange } from './exchange.ts';
import { hashKey } from './hash-key.ts';
import { firstValue } from './headers.ts';
import type { HeaderBag } from './headers.ts';
import type { DownstreamResponse } from './local-reply.ts';
import { mirror } from './mirror.ts';
import { readRequestBody } from './request-body.ts';
import { ResponseWriter } from './response-writer.ts';
import { backoffMs, retriableFailure, retriableResponse } from './retry-policy.ts';
import type { AttemptFailure } from './retry-policy.ts';
import { routeTimeoutMs, upstreamRequest } from './upstream-request.ts';

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
  retryTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** The retry budget slot of the retry waiting for its back-off. */
  retryRelease: (() => void) | undefined = undefined;
  routeTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Writes the response downstream once an upstream try answered. */
  readonly out: ResponseWriter;
  /** The response head went downstream: no more retries, failures reset the stream. */
  streaming = false;
  cancelled = false;

  constructor(ex: Exchange, action: ClusterAction) {
    this.ex = ex;
    this.action = action;
    this.out = new ResponseWriter(ex);
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
    const prepared = upstreamRequest(ex, action);
    this.headers = prepared.headers;
    this.path = prepared.path;
    if (action.hashPolicy) {
      const hk = hashKey(action.hashPolicy, request, ex.ctx.info.sourceIp, rt.random);
      if (hk.key !== undefined) this.lb.hashKey = hk.key;
      this.setCookie = hk.setCookie;
    }
    const info = ex.ctx.info;
    if (info.destinationIp) this.lb.originalDestination = hostAddress(info.destinationIp, info.port);
    const retry = action.retry;
    if (retry && retry.numRetries > 0) {
      this.retry = retry;
      if (retry.hostPredicates?.some((p) => p.endsWith('previous_hosts'))) this.attempted = new Set();
    }
    // Buffered (replayable) only when a retry or a mirror may send it again.
    readRequestBody(ex, this.retry !== undefined || action.mirrors !== undefined, this);
  }

  /** The body is known: a Buffer (replayable), a stream (not), or none. */
  bodyReady(body: Buffer | Readable | null, replayable: boolean): void {
    this.body = body;
    this.replayable = replayable;
    // A streamed body is counted by onBodySent, as its bytes reach the upstream.
    if (!replayable) this.ex.requestBytes = 0;
    this.go();
  }

  private go(): void {
    if (this.cancelled) return;
    const ex = this.ex;
    const rt = ex.shared.runtime;
    if (this.action.mirrors && this.replayable) {
      mirror(rt, this.action.mirrors, this.method, this.path, this.headers as Record<string, string | string[]>, this.body as Buffer | null, this.lb, ex.http2 ? 'http2' : 'http1');
    }
    const t = routeTimeoutMs(ex, this.action);
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
      // The downstream protocol for clusters that follow it (ports of unknown protocol); the authority for auto SNI.
      cluster.dispatcher(host, ex.http2 ? 'http2' : 'http1', this.headers.host as string | undefined)
        .dispatch({ path: this.path, method: this.method, headers: this.headers as Record<string, string>, body: this.body }, a);
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

  attemptHeaders(a: Attempt, status: number, upstream: HeaderBag): void {
    const ex = this.ex;
    const now = ex.shared.runtime.now();
    this.cluster!.report(a.host, { kind: 'response', status, latencyMs: now - a.startedAt });
    const grpcStatus = firstValue(upstream['grpc-status']);
    if (this.retry && retriableResponse(this.retry, status, grpcStatus)) {
      if (this.tryRetry()) return;
      if (this.retries > 0) ex.flags.push('URX');
    }
    this.streaming = true;
    ex.status = status;
    if (grpcStatus !== undefined) ex.grpcStatus = grpcStatus;
    this.out.head(status, upstream, this.action, this.setCookie);
  }

  attemptData(a: Attempt, chunk: Buffer): void {
    if (!this.out.data(chunk) && this.out.paused === undefined) {
      this.out.paused = a;
      a.pause();
      this.ex.res.once('drain', onDownstreamDrain);
    }
  }

  attemptBodySent(bytes: number): void {
    if (!this.replayable) this.ex.requestBytes += bytes;
  }

  resumeUpstream(): void {
    const a = this.out.paused;
    this.out.paused = undefined;
    a?.resume();
  }

  attemptEnd(_a: Attempt, trailers: HeaderBag): void {
    this.clearTimers();
    this.out.end(trailers);
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
    const flags: ResponseFlag[] = [failure === 'connect-failure' ? 'UF' : 'UC'];
    if (retriable && this.retries > 0) flags.push('URX');
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

function refusedStream(err: Error): boolean {
  const e = err as Error & { code?: string };
  return e.code === 'ERR_HTTP2_STREAM_ERROR' && e.message.includes('REFUSED_STREAM');
}
