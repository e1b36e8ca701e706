// Envoy's fault filter for one request: whether to delay it (fixed delay or the x-envoy-fault-delay-request
// header, in ms) and whether to abort it (HTTP status, gRPC status, or the x-envoy-fault-abort-request /
// x-envoy-fault-abort-grpc-request headers), each drawn against its percentage with the injected random source.
import type { HttpRequest } from '../routing/request.ts';
import type { FaultSummary } from '../routing/types.ts';

interface FaultDecision {
  delayMs?: number;
  /** gRPC aborts answer HTTP 200 with grpc-status (trailers-only). */
  abort?: { httpStatus: number; grpcStatus?: number };
}

function headerNumber(req: HttpRequest, name: string): number | undefined {
  const v = req.headers.get(name)?.[0];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

export function faultDecision(f: FaultSummary, req: HttpRequest, random: () => number): FaultDecision {
  const out: FaultDecision = {};
  const d = f.delay;
  if (d && random() * 100 < d.percent) {
    const ms = d.fromHeader ? headerNumber(req, 'x-envoy-fault-delay-request') : d.fixedDelayMs;
    if (ms !== undefined && ms > 0) out.delayMs = ms;
  }
  const a = f.abort;
  if (a && random() * 100 < a.percent) {
    if (a.fromHeader) {
      const grpc = headerNumber(req, 'x-envoy-fault-abort-grpc-request');
      const http = headerNumber(req, 'x-envoy-fault-abort-request');
      if (grpc !== undefined) out.abort = { httpStatus: 200, grpcStatus: grpc };
      else if (http !== undefined && http >= 200 && http < 600) out.abort = { httpStatus: http };
    } else if (a.grpcStatus !== undefined) {
      out.abort = { httpStatus: 200, grpcStatus: a.grpcStatus };
    } else if (a.httpStatus !== undefined && a.httpStatus >= 200 && a.httpStatus < 600) {
      out.abort = { httpStatus: a.httpStatus };
    }
  }
  return out;
}
