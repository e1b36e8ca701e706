// The downstream request body for the upstream tries. In: the downstream request and whether a retry or a
// mirror may need to send it again; out: nothing (no body), the body as one Buffer (up to the buffer limit, so
// it can be replayed), or a stream (no replay: retries and mirrors are off for this request). Buffering costs
// latency and memory, so bodies stream whenever nothing would replay them. A filter that must see the body first
// (ext_authz with_request_body) pre-reads it with prereadRequestBody; the router then takes what was read.
import type { Http2ServerRequest } from 'node:http2';
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import type { Exchange } from './exchange.ts';

interface BodySink {
  bodyReady(body: Buffer | Readable | null, replayable: boolean): void;
}

function hasRequestBody(ex: Exchange): boolean {
  const req = ex.req;
  if (ex.http2) return !(req as Http2ServerRequest).stream.endAfterHeaders;
  const cl = req.headers['content-length'];
  return cl !== undefined ? cl !== '0' : req.headers['transfer-encoding'] !== undefined;
}

export function readRequestBody(ex: Exchange, replay: boolean, sink: BodySink): void {
  if (!hasRequestBody(ex)) return sink.bodyReady(null, true);
  const req = ex.req;
  const pre = preread.get(ex);
  if (pre) {
    // A filter (ext_authz with_request_body) read the body, or its first part, already.
    if (pre.ended) {
      ex.requestBytes = pre.size;
      return sink.bodyReady(pre.size === 0 ? null : Buffer.concat(pre.chunks, pre.size), true);
    }
    const pt = new PassThrough();
    for (const b of pre.chunks) pt.write(b);
    req.pipe(pt);
    return sink.bodyReady(pt, false);
  }
  if (!replay) return sink.bodyReady(req, false);
  const limit = ex.shared.bufferLimit;
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (c: Buffer): void => {
    size += c.length;
    chunks.push(c);
    if (size <= limit) return;
    // Too big to replay: stream what was read and the rest.
    req.off('data', onData);
    req.off('end', onEnd);
    req.pause();
    const pt = new PassThrough();
    for (const b of chunks) pt.write(b);
    req.pipe(pt);
    sink.bodyReady(pt, false);
  };
  const onEnd = (): void => {
    ex.requestBytes = size;
    sink.bodyReady(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), true);
  };
  req.on('data', onData);
  req.on('end', onEnd);
}

interface Preread { chunks: Buffer[]; size: number; ended: boolean }
const preread = new WeakMap<Exchange, Preread>();

/**
 * The body for a filter that needs it before the router (ext_authz with_request_body), kept for the upstream
 * (the router then sends it as a Buffer, or the part read and the rest as a stream). With `allowPartial` the
 * reading stops once `maxBytes` arrived and the first `maxBytes` are given (`partial` when more was sent);
 * without, the whole body is read, and one larger than the proxy's buffer limit is 'too-large' (413).
 */
export function prereadRequestBody(ex: Exchange, maxBytes: number, allowPartial: boolean): Promise<{ body: Buffer; partial: boolean } | 'too-large'> {
  if (!hasRequestBody(ex)) return Promise.resolve({ body: Buffer.alloc(0), partial: false });
  const req = ex.req;
  const limit = allowPartial ? maxBytes : ex.shared.bufferLimit;
  const pre: Preread = { chunks: [], size: 0, ended: false };
  preread.set(ex, pre);
  return new Promise((resolve, reject) => {
    const done = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (c: Buffer): void => {
      pre.chunks.push(c);
      pre.size += c.length;
      if (allowPartial ? pre.size < limit : pre.size <= limit) return;
      done();
      req.pause();
      if (!allowPartial) return resolve('too-large');
      resolve({ body: Buffer.concat(pre.chunks, pre.size).subarray(0, limit), partial: true });
    };
    const onEnd = (): void => {
      done();
      pre.ended = true;
      resolve({ body: Buffer.concat(pre.chunks, pre.size), partial: false });
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
