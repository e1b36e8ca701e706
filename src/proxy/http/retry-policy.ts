// When a failed upstream attempt is retried, per a route's retry policy (RetrySummary from route-action.ts),
// with Envoy's retry_on semantics, and how long to wait before the next attempt (fully jittered exponential
// back-off: retry n waits a random time in [0, (2^n - 1) × base), capped at 10 × base; base 25 ms).
import type { RetrySummary } from '../routing/types.ts';

/** How an attempt ended without a usable response. */
export type AttemptFailure = 'connect-failure' | 'reset' | 'refused-stream' | 'per-try-timeout';

/** retry_on as bit flags, folded only when a try failed or answered an error (a short loop; successes skip it). */
const ON_5XX = 1;
const ON_GATEWAY = 2;
const ON_CONNECT = 4;
const ON_RESET = 8;
const ON_4XX = 16;
const ON_REFUSED = 32;
const ON_CODES = 64;
const GRPC_CANCELLED = 128;
const GRPC_DEADLINE = 256;
const GRPC_EXHAUSTED = 512;
const GRPC_UNAVAILABLE = 1024;
const GRPC_INTERNAL = 2048;

const BITS: Record<string, number> = {
  '5xx': ON_5XX,
  'gateway-error': ON_GATEWAY,
  'connect-failure': ON_CONNECT,
  reset: ON_RESET,
  'retriable-4xx': ON_4XX,
  'refused-stream': ON_REFUSED,
  'retriable-status-codes': ON_CODES,
  cancelled: GRPC_CANCELLED,
  'deadline-exceeded': GRPC_DEADLINE,
  'resource-exhausted': GRPC_EXHAUSTED,
  unavailable: GRPC_UNAVAILABLE,
  internal: GRPC_INTERNAL,
};

function bits(p: RetrySummary): number {
  let b = 0;
  for (const on of p.retryOn) b |= BITS[on] ?? 0;
  return b;
}

/** Is a response with this status (and grpc-status, from headers of a trailers-only gRPC reply) retried? */
export function retriableResponse(p: RetrySummary, status: number, grpcStatus: string | undefined): boolean {
  // The common answer (2xx/3xx, gRPC OK or no gRPC status) is never retried: decide before parsing retry_on.
  if (status < 400 && (grpcStatus === undefined || grpcStatus === '0')) return false;
  const b = bits(p);
  if ((b & ON_5XX) && status >= 500) return true;
  if ((b & ON_GATEWAY) && (status === 502 || status === 503 || status === 504)) return true;
  if ((b & ON_4XX) && status === 409) return true;
  if ((b & ON_CODES) && p.retriableStatusCodes?.includes(status)) return true;
  if (grpcStatus !== undefined) {
    switch (grpcStatus) {
      case '1': return (b & GRPC_CANCELLED) !== 0;
      case '4': return (b & GRPC_DEADLINE) !== 0;
      case '8': return (b & GRPC_EXHAUSTED) !== 0;
      case '13': return (b & GRPC_INTERNAL) !== 0;
      case '14': return (b & GRPC_UNAVAILABLE) !== 0;
    }
  }
  return false;
}

/** Is an attempt that got no response retried? 5xx and gateway-error count every such failure (it becomes a
 * 503/504); reset covers disconnects and timeouts; connect-failure and refused-stream only their own case. */
export function retriableFailure(p: RetrySummary, failure: AttemptFailure): boolean {
  const b = bits(p);
  if (b & (ON_5XX | ON_GATEWAY)) return true;
  switch (failure) {
    case 'connect-failure': return (b & (ON_CONNECT | ON_RESET)) !== 0;
    case 'refused-stream': return (b & (ON_REFUSED | ON_RESET)) !== 0;
    case 'reset': return (b & ON_RESET) !== 0;
    case 'per-try-timeout': return (b & ON_RESET) !== 0;
  }
}

const BACKOFF_BASE_MS = 25;
const BACKOFF_MAX_MS = 10 * BACKOFF_BASE_MS;

/** The wait before retry number `retry` (1 for the first retry), `random` uniform in [0, 1). */
export function backoffMs(retry: number, random: number, baseMs = BACKOFF_BASE_MS, maxMs = BACKOFF_MAX_MS): number {
  const ceiling = Math.min((2 ** Math.min(retry, 30) - 1) * baseMs, maxMs);
  return Math.floor(random * ceiling);
}
