// Requests node's HTTP/1 parser rejects (malformed or smuggling framing, header block too large, headers not
// received in time). In: the parser's error and the connection; out: the status node itself would answer (400,
// 431, 408) written once with Connection: close, the connection closed, and an HttpRecord flagged DPE
// (downstream protocol error) so the rejection shows in metrics and access logs. Resets and errors after a
// response started only close the connection, as node does.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ConnContext } from '../runtime.ts';
import { peers } from './record.ts';
import type { Shared } from './shared.ts';

function statusFor(code: string | undefined): number {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW': return 431;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW': return 413;
    case 'ERR_HTTP_REQUEST_TIMEOUT': return 408;
    default: return 400;
  }
}

interface InFlight { _httpMessage?: { headersSent?: boolean } | null }

export function onClientError(shared: Shared, ctx: ConnContext | undefined, err: NodeJS.ErrnoException, socket: Duplex): void {
  const code = err.code;
  const started = (socket as InFlight)._httpMessage?.headersSent === true;
  if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable || started) {
    socket.destroy();
    return;
  }
  const status = statusFor(code);
  const body = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n\r\n`;
  socket.end(body);
  socket.destroy();
  if (!ctx) return;
  const rt = shared.runtime;
  rt.telemetry.http({
    ...peers(rt, ctx, undefined, undefined),
    startTime: Date.now(),
    durationMs: 0,
    method: '',
    authority: '',
    path: '',
    requestProtocol: 'http',
    httpVersion: 'HTTP/1.1',
    status,
    flags: ['DPE'],
    requestBytes: 0,
    responseBytes: 0,
    downstreamRemote: ctx.downstreamRemote,
  });
}
