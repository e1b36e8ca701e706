// Circuit breakers of one cluster (thresholds of the DEFAULT priority): requests in flight against
// max_requests, requests waiting for a connection against max_pending_requests, retries in flight against
// max_retries (or the retry budget: a share of the requests in flight, never below its minimum concurrency).
// A request waits for a connection when every allowed connection is busy (HTTP/1.1: one request each; HTTP/2:
// as many as the streams a connection carries). Admission hands back a release function that works once.
import { arr, isObj, obj, percent, str, u32 } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';

/** A uint32 threshold at its maximum: no limit. */
export const UNLIMITED = 2 ** 32 - 1;

export interface Thresholds {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
  /** retry_budget: concurrent retries limited to a share of the requests in flight (then max_retries is not used). */
  retryBudget?: { percent: number; minConcurrency: number };
}

/** Envoy's defaults (1024 each, 3 retries) when the cluster sets no thresholds for the DEFAULT priority. */
export function thresholdsOf(cluster: Obj): Thresholds {
  const all = arr(obj(cluster.circuitBreakers).thresholds);
  const t = all.find((x) => x.priority === undefined || x.priority === 0 || str(x.priority) === 'DEFAULT') ?? {};
  const out: Thresholds = {
    maxConnections: u32(t.maxConnections) ?? 1024,
    maxPendingRequests: u32(t.maxPendingRequests) ?? 1024,
    maxRequests: u32(t.maxRequests) ?? 1024,
    maxRetries: u32(t.maxRetries) ?? 3,
  };
  if (isObj(t.retryBudget)) {
    out.retryBudget = { percent: percent(t.retryBudget.budgetPercent, 20), minConcurrency: u32(t.retryBudget.minRetryConcurrency) ?? 3 };
  }
  return out;
}

export interface Breaker {
  /** New thresholds from a config update; requests in flight stay counted. */
  configure(t: Thresholds, perConnection?: number): void;
  admitRequest(): (() => void) | undefined;
  admitRetry(): (() => void) | undefined;
  readonly activeRequests: number;
}

/** `perConnection`: requests one connection carries at once (1 for HTTP/1.1). */
export function createBreaker(t: Thresholds, perConnection = 1): Breaker {
  let requests = 0;
  let retries = 0;
  let capacity = 0;
  const configure = (next: Thresholds, per = 1) => {
    t = next;
    capacity = t.maxConnections >= UNLIMITED ? Infinity : t.maxConnections * per;
  };
  configure(t, perConnection);
  const endRequest = () => { requests--; };
  const endRetry = () => { retries--; };
  return {
    configure,
    admitRequest() {
      if (requests >= t.maxRequests) return undefined;
      // Beyond the connections' capacity the request would queue: that is what max_pending_requests bounds.
      if (requests >= capacity && requests - capacity >= t.maxPendingRequests) return undefined;
      requests++;
      return once(endRequest);
    },
    admitRetry() {
      const limit = t.retryBudget ? Math.max(t.retryBudget.minConcurrency, (t.retryBudget.percent / 100) * requests) : t.maxRetries;
      if (retries >= limit) return undefined;
      retries++;
      return once(endRetry);
    },
    get activeRequests() { return requests; },
  };
}

/** A release that counts only its first call (a request may end by several paths). */
function once(release: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      release();
    }
  };
}
