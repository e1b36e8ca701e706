// Protocol detection on an accepted connection, like Envoy's tls_inspector and http_inspector listener filters:
// a socket and what the listener wants to know in; out what the client's first bytes say (TLS ClientHello with
// SNI and ALPN, the HTTP/2 connection preface, an HTTP/1.x request line, else opaque TCP) and the bytes read,
// which the caller replays (they are never lost). Server-first protocols send nothing: after the detection
// timeout the connection counts as TCP, as Envoy does with continue_on_listener_filters_timeout.
import type { Socket } from 'node:net';
import { parseClientHello } from './client-hello.ts';

interface SniffNeeds {
  /** The listener has an enabled TLS inspector for this connection. */
  tls: boolean;
  /** The listener has an enabled HTTP inspector for this connection. */
  http: boolean;
}

export interface SniffOptions extends SniffNeeds {
  /** Milliseconds to wait for the client's bytes; 0 or undefined = wait for as long as the client takes. */
  timeoutMs?: number;
  /** On timeout: go on as TCP (true, Envoy's continue_on_listener_filters_timeout) or close the connection. */
  continueOnTimeout?: boolean;
  /** The most bytes to read before giving up on detection (a ClientHello may be large). */
  maxBytes?: number;
}

type Detected =
  | { protocol: 'tls'; sni?: string; alpn: string[] }
  | { protocol: 'http1' | 'http1.0' | 'http2' }
  | { protocol: 'tcp'; why: 'skipped' | 'not-detected' | 'timeout' | 'limit' | 'eof' }
  | { protocol: 'closed'; why: 'timeout' | 'error' };

export type Sniffed = Detected & { head: Buffer };

const DEFAULT_MAX_SNIFF_BYTES = 64 * 1024;
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
// RFC 9110 token characters, then one space: the start of an HTTP/1 request line.
const TCHAR = /^[!#$%&'*+.^_`|~0-9A-Za-z-]$/;
const REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^ \r\n]+ HTTP\/1\.([01])$/;
const MAX_REQUEST_LINE = 16 * 1024;

type Verdict<T> = { kind: 'yes'; value: T } | { kind: 'no' } | { kind: 'more' };

function detectHttp(buf: Buffer): Verdict<'http1' | 'http1.0' | 'http2'> {
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (n > 0 && buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) {
    return buf.length >= H2_PREFACE.length ? { kind: 'yes', value: 'http2' } : { kind: 'more' };
  }
  const eol = buf.indexOf('\r\n', 0, 'latin1');
  if (eol < 0) {
    // Still consistent with "token SP ..."? Then wait for the rest of the line.
    let i = 0;
    while (i < buf.length && TCHAR.test(String.fromCharCode(buf[i]!))) i++;
    if (i === buf.length || (i > 0 && buf[i] === 0x20)) return buf.length > MAX_REQUEST_LINE ? { kind: 'no' } : { kind: 'more' };
    return { kind: 'no' };
  }
  const m = REQUEST_LINE.exec(buf.subarray(0, eol).toString('latin1'));
  if (!m) return { kind: 'no' };
  return { kind: 'yes', value: m[1] === '0' ? 'http1.0' : 'http1' };
}

function detectTls(buf: Buffer): Verdict<{ sni?: string; alpn: string[] }> {
  const r = parseClientHello(buf);
  if (r.kind === 'more') return { kind: 'more' };
  if (r.kind === 'not-tls') return { kind: 'no' };
  return { kind: 'yes', value: { ...(r.sni !== undefined ? { sni: r.sni } : {}), alpn: r.alpn } };
}

/** Decides from the bytes so far; undefined = read more. */
export function classify(buf: Buffer, needs: SniffNeeds): Detected | undefined {
  let waiting = false;
  if (needs.tls) {
    const t = detectTls(buf);
    if (t.kind === 'yes') return { protocol: 'tls', ...t.value };
    if (t.kind === 'more') waiting = true;
  }
  if (needs.http) {
    const h = detectHttp(buf);
    if (h.kind === 'yes' && !waiting) return { protocol: h.value };
    if (h.kind === 'more') waiting = true;
  }
  return waiting ? undefined : { protocol: 'tcp', why: 'not-detected' };
}

/**
 * Reads the client's first bytes until `classify` decides (or timeout, limit, EOF). Leaves the socket paused
 * with nothing consumed from the caller's point of view: `head` holds every byte read.
 */
export function sniff(socket: Socket, options: SniffOptions): Promise<Sniffed> {
  if (!options.tls && !options.http) return Promise.resolve({ protocol: 'tcp', why: 'skipped', head: Buffer.alloc(0) });
  const max = options.maxBytes ?? DEFAULT_MAX_SNIFF_BYTES;
  return new Promise((resolve) => {
    let head: Buffer = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    const finish = (d: Detected) => {
      if (timer) clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onError);
      socket.pause();
      resolve({ ...d, head });
    };
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const d = classify(head, options);
      if (d) finish(d);
      else if (head.length >= max) finish({ protocol: 'tcp', why: 'limit' });
    };
    const onEnd = () => finish(classify(head, options) ?? { protocol: 'tcp', why: 'eof' });
    const onError = () => finish({ protocol: 'closed', why: 'error' });
    if (options.timeoutMs && options.timeoutMs > 0) {
      timer = setTimeout(() => {
        finish(options.continueOnTimeout === false ? { protocol: 'closed', why: 'timeout' } : { protocol: 'tcp', why: 'timeout' });
      }, options.timeoutMs);
    }
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onError);
    socket.resume();
  });
}
