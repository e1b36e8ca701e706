// The common HTTP/1.1 response written in one piece: status, headers and a whole content-length body (one
// chunk from the upstream) go to the connection as a single buffer instead of through ServerResponse's header
// formatting and stream writes, which cost more than the write itself for small answers. Only where the result
// is byte for byte what node:http would send: the response is the connection's current one (pipelined
// responses keep their order), the connection stays open (no Connection: close to add), the upstream sent a Date
// header (node would add one) and no header needs node's checks (the proxy's own header operations, CORS and
// cookies take the regular path). The ServerResponse then ends without writing anything, so node's keep-alive,
// pipelining and 'finish'/'close' bookkeeping run as usual.
import { STATUS_CODES } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HeaderBag } from './headers.ts';

/** The node:http internals this relies on (stable, but not public). */
interface ResponseInternals {
  _header: string | null;
  _headerSent: boolean;
  _hasBody: boolean;
  _last: boolean;
  _keepAliveTimeout: number;
  shouldKeepAlive: boolean;
}

interface SocketInternals { _httpMessage?: unknown }

/** Whether `res` can take a direct write now (the headers are checked by directHead). */
export function canWriteDirect(res: ServerResponse): boolean {
  const r = res as unknown as ResponseInternals;
  const socket = res.socket as (Socket & SocketInternals) | null;
  return socket !== null && socket._httpMessage === res && !socket.destroyed && socket.writable
    && r._header === null && r.shouldKeepAlive && typeof r._keepAliveTimeout === 'number';
}

/** The response head node:http would write for these headers, or undefined when only node can write it. */
function directHead(status: number, headers: HeaderBag, keepAliveMs: number): string | undefined {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
  let date = false;
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined) continue;
    if (k === 'date') date = true;
    else if (k === 'connection' || k === 'transfer-encoding' || k === 'keep-alive' || k === 'expect' || k === 'trailer') return undefined;
    if (typeof v === 'string') head += `${k}: ${v}\r\n`;
    else for (const one of v) head += `${k}: ${one}\r\n`;
  }
  if (!date) return undefined;
  head += keepAliveMs > 0 ? `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(keepAliveMs / 1000)}\r\n\r\n` : 'Connection: keep-alive\r\n\r\n';
  return head;
}

/** Writes the whole response; false when it must take node's regular path instead (nothing written then). */
export function writeDirect(res: ServerResponse, status: number, headers: HeaderBag, body: Buffer): boolean {
  const r = res as unknown as ResponseInternals;
  const head = directHead(status, headers, r._keepAliveTimeout);
  if (head === undefined) return false;
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, 'latin1');
  body.copy(out, head.length);
  r._header = head;
  r._headerSent = true;
  r._hasBody = false;
  res.statusCode = status;
  (res.socket as Socket).write(out);
  res.end();
  return true;
}
