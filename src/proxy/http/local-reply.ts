// Responses the proxy makes itself (no route, no healthy upstream, timeouts, faults, redirects, direct
// responses, CORS preflights). For gRPC requests a local reply is trailers-only: HTTP 200 with grpc-status
// mapped from the HTTP status (and grpc-message), as Envoy does, so gRPC clients see a proper status.
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';

export type DownstreamResponse = ServerResponse | Http2ServerResponse;

/** Envoy's HTTP → gRPC status mapping for local replies. */
export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400: return 13;
    case 401: return 16;
    case 403: return 7;
    case 404: return 12;
    case 429: case 502: case 503: case 504: return 14;
    default: return 2;
  }
}

export interface LocalReply {
  status: number;
  body?: string;
  headers?: Record<string, string | string[]>;
  /** Answer as gRPC: HTTP 200 with this grpc-status (the request's content-type was application/grpc*). */
  grpcStatus?: number;
}

/** Writes a complete local response; returns the body length written. */
export function sendLocalReply(res: DownstreamResponse, reply: LocalReply, closeConnection: boolean): number {
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  const headers: Record<string, string | string[]> = { ...reply.headers };
  if (closeConnection && 'shouldKeepAlive' in res) res.shouldKeepAlive = false;
  if (reply.grpcStatus !== undefined) {
    headers['content-type'] = 'application/grpc';
    headers['grpc-status'] = String(reply.grpcStatus);
    if (reply.body) headers['grpc-message'] = encodeURIComponent(reply.body);
    (res as ServerResponse).writeHead(200, headers);
    res.end();
    return 0;
  }
  const body = reply.body ?? '';
  if (body !== '' && headers['content-type'] === undefined) headers['content-type'] = 'text/plain';
  headers['content-length'] = String(Buffer.byteLength(body));
  (res as ServerResponse).writeHead(reply.status, headers);
  res.end(body);
  return Buffer.byteLength(body);
}
