// The downstream request body for the upstream tries. In: the downstream request and whether a retry or a
// mirror may need to send it again; out: nothing (no body), the body as one Buffer (up to the buffer limit, so
// it can be replayed), or a stream (no replay: retries and mirrors are off for this request). Buffering costs
// latency and memory, so bodies stream whenever nothing would replay them.
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
