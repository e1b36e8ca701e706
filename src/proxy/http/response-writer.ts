// The downstream side of a forwarded response. In: the upstream try's head, body chunks and end (with trailers);
// out: the response downstream — hop-by-hop headers removed, the route's response header operations, CORS and
// the hash policy's cookie added — with back-pressure (a full downstream pauses the upstream try). A whole
// content-length HTTP/1.1 answer is held until its end and written in one piece when node's bytes would be the
// same (h1-direct.ts); otherwise node's response object writes it.
import type { ServerResponse } from 'node:http';
import type { ClusterAction } from '../routing/types.ts';
import type { Attempt } from './attempt.ts';
import type { Exchange } from './exchange.ts';
import { canWriteDirect, writeDirect } from './h1-direct.ts';
import { applyHeaderOps, firstValue, stripHopByHop, withoutHopByHop } from './headers.ts';
import type { HeaderBag } from './headers.ts';

export class ResponseWriter {
  readonly ex: Exchange;
  /** Response body bytes still to come per the upstream's content-length (-1: not known). */
  remaining = -1;
  /** The body's last chunk, held so that it goes out with the end of the response (one write, not two). */
  held: Buffer | undefined = undefined;
  /** A response head not given to node yet: it may go out with the body in one direct write. */
  pendingStatus = 0;
  pendingHeaders: HeaderBag | undefined = undefined;
  /** The try paused because the downstream is full. */
  paused: Attempt | undefined = undefined;

  constructor(ex: Exchange) {
    this.ex = ex;
  }

  head(status: number, upstream: HeaderBag, action: ClusterAction, setCookie: string | undefined): void {
    const ex = this.ex;
    const cl = upstream['content-length'];
    this.remaining = typeof cl === 'string' && cl !== '' ? Number(cl) : -1;
    const headers = withoutHopByHop(upstream, false, false);
    if (action.responseHeaderOps) applyHeaderOps(headers, action.responseHeaderOps);
    if (ex.corsHeaders) Object.assign(headers, ex.corsHeaders);
    if (setCookie) {
      const cur = headers['set-cookie'];
      headers['set-cookie'] = cur === undefined ? setCookie : [...(typeof cur === 'string' ? [cur] : cur), setCookie];
    }
    if (!ex.http2 && this.remaining > 0 && !action.responseHeaderOps && !ex.corsHeaders && !setCookie) {
      this.pendingStatus = status;
      this.pendingHeaders = headers;
      return;
    }
    this.writeHead(status, headers);
  }

  /** Writes a chunk; false when the downstream is full (the caller pauses the upstream). */
  data(chunk: Buffer): boolean {
    this.ex.responseBytes += chunk.length;
    // The chunk that completes a content-length body: the end of the message follows in the same parse, so
    // holding it delays nothing.
    if (this.remaining > 0 && (this.remaining -= chunk.length) === 0 && this.held === undefined) {
      this.held = chunk;
      return true;
    }
    this.flushHead();
    return (this.ex.res as ServerResponse).write(chunk);
  }

  end(trailers: HeaderBag): void {
    const ex = this.ex;
    const last = this.held;
    this.held = undefined;
    const pending = this.pendingHeaders;
    const withTrailers = hasKeys(trailers);
    if (pending !== undefined && last !== undefined && !withTrailers && !ex.shared.draining) {
      const res = ex.res as ServerResponse;
      if (canWriteDirect(res) && writeDirect(res, this.pendingStatus, pending, last)) {
        this.pendingHeaders = undefined;
        return;
      }
    }
    this.flushHead();
    if (withTrailers) {
      stripHopByHop(trailers, false);
      const g = firstValue(trailers['grpc-status']);
      if (g !== undefined) ex.grpcStatus = g;
      ex.res.addTrailers(trailers as Record<string, string>);
    }
    if (last !== undefined) ex.res.end(last);
    else ex.res.end();
  }

  private writeHead(status: number, headers: HeaderBag): void {
    const ex = this.ex;
    const res = ex.res;
    if (ex.shared.draining && !ex.http2) (res as ServerResponse).shouldKeepAlive = false;
    (res as ServerResponse).writeHead(status, headers as Record<string, string | string[]>);
  }

  private flushHead(): void {
    const headers = this.pendingHeaders;
    if (headers === undefined) return;
    this.pendingHeaders = undefined;
    this.writeHead(this.pendingStatus, headers);
  }
}

function hasKeys(o: object): boolean {
  for (const k in o) return k !== undefined;
  return false;
}
