// The access log. In: HTTP and TCP records. Out: one JSON object per request (or TCP connection) with Envoy's
// field names, written through a buffer that is flushed on a short timer, when it grows large, and on close —
// never one write syscall per request.
import type { HttpRecord, ResponseFlag, TcpRecord } from '../runtime.ts';

export interface LineWriter {
  write(line: string): void;
  flush(): void;
  close(): void;
}

export interface BufferedWriterOptions {
  flushMs?: number;
  /** Flush at once when this many characters are waiting. */
  maxChars?: number;
}

/** Buffers lines and hands them to `sink` in batches (one string, newline-terminated lines). */
export function bufferedWriter(sink: (chunk: string) => void, opts: BufferedWriterOptions = {}): LineWriter {
  const flushMs = opts.flushMs ?? 100;
  const maxChars = opts.maxChars ?? 64 * 1024;
  let lines: string[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (lines.length === 0) return;
    const chunk = `${lines.join('\n')}\n`;
    lines = [];
    size = 0;
    try {
      sink(chunk);
    } catch {
      // A closed stdout must not take the proxy down; the lines are lost.
    }
  };
  return {
    write(line) {
      if (closed) return;
      lines.push(line);
      size += line.length + 1;
      if (size >= maxChars) flush();
      else if (!timer) {
        timer = setTimeout(flush, flushMs);
        timer.unref();
      }
    },
    flush,
    close() {
      flush();
      closed = true;
    },
  };
}

/** Envoy's %RESPONSE_FLAGS%: a comma list, or "-" when none. */
export const formatFlags = (flags: readonly ResponseFlag[]): string => (flags.length === 0 ? '-' : flags.join(','));

/**
 * Records carry `startTime` from the runtime clock: epoch milliseconds, or milliseconds since the process's
 * time origin (performance.now()); both become a wall-clock ISO time.
 */
function wallClock(startTime: number): string {
  const ms = startTime > 1e12 ? startTime : performance.timeOrigin + startTime;
  return new Date(ms).toISOString();
}

export function httpLogLine(r: HttpRecord): string {
  return JSON.stringify({
    start_time: wallClock(r.startTime),
    method: r.method,
    path: r.path,
    protocol: r.httpVersion,
    response_code: r.status,
    response_flags: formatFlags(r.flags),
    bytes_received: r.requestBytes,
    bytes_sent: r.responseBytes,
    duration: Math.round(r.durationMs),
    upstream_host: r.upstreamHost ?? null,
    upstream_cluster: r.upstreamCluster ?? null,
    user_agent: r.userAgent ?? null,
    request_id: r.requestId ?? null,
    authority: r.authority,
    trace_id: r.traceId ?? null,
    route_name: r.route ?? null,
    downstream_remote_address: r.downstreamRemote ?? null,
    grpc_status: r.grpcStatus ?? null,
    reporter: r.reporter,
    response_code_details: r.details ?? null,
    ...(r.audit !== undefined ? { audit: true, audit_policy: r.audit } : {}),
    ...(r.logHints !== undefined ? { authz_hints: r.logHints } : {}),
  });
}

/** At connection close; the byte counts are the close record's (what was not reported at open). */
export function tcpLogLine(r: TcpRecord): string {
  return JSON.stringify({
    start_time: wallClock(r.startTime),
    protocol: 'tcp',
    response_flags: formatFlags(r.flags),
    bytes_received: r.receivedBytes,
    bytes_sent: r.sentBytes,
    duration: r.durationMs === undefined ? null : Math.round(r.durationMs),
    upstream_host: r.upstreamHost ?? null,
    upstream_cluster: r.upstreamCluster ?? null,
    downstream_remote_address: r.downstreamRemote ?? null,
    reporter: r.reporter,
    connection_termination_details: r.details ?? null,
  });
}
