// Trace context propagation for one proxy hop. In: the request headers the upstream will receive (lowercase
// names) and a source of random ids; out: the same headers with W3C `traceparent` and B3 (`x-b3-*` or single `b3`)
// carrying the incoming trace id, a new span id for this hop and the incoming span as parent. A request without
// any trace context starts a new trace (traceparent + x-b3-*), so the mesh's hops stitch together.

import { randomFillSync } from 'node:crypto';
import { firstValue } from './headers.ts';
import type { HeaderBag } from './headers.ts';

/** Random lowercase hex ids of 8 or 16 bytes. */
interface IdSource {
  hex(bytes: number): string;
}

const pool = Buffer.allocUnsafe(4096);
let poolHex = '';
let used = pool.length;

/** Ids from a pooled crypto-random buffer: one native fill and hex conversion per few hundred ids, then each id
 * is a substring of that hex text (V8 shares the characters; this runs for every request). */
const randomIds: IdSource = {
  hex(bytes) {
    if (used + bytes > pool.length) {
      randomFillSync(pool);
      poolHex = pool.toString('hex');
      used = 0;
    }
    const s = poolHex.slice(used * 2, (used + bytes) * 2);
    used += bytes;
    return s;
  },
};

/** Ids drawn from a uniform [0, 1) source, 4 bytes per draw (deterministic ids for tests). */
export function idsFrom(random: () => number): IdSource {
  return {
    hex(bytes) {
      let s = '';
      for (let i = 0; i < bytes; i += 4) s += ((random() * 0x100000000) >>> 0).toString(16).padStart(8, '0');
      return s;
    },
  };
}

export interface TraceIds {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  sampled: boolean;
}

function isHex(s: string, len: number): boolean {
  if (s.length !== len) return false;
  let zero = true;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    const hex = (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
    if (!hex) return false;
    if (c !== 48) zero = false;
  }
  return !zero;
}

function newSpanId(ids: IdSource): string {
  return ids.hex(8);
}

function newTraceId(ids: IdSource): string {
  return ids.hex(16);
}

interface Incoming {
  traceId: string;
  spanId?: string;
  sampled?: boolean;
}

/** `00-<trace 32>-<span 16>-<flags 2>` */
export function parseTraceparent(v: string | undefined): (Incoming & { spanId: string; flags: string }) | undefined {
  if (v === undefined || v.length < 55 || v.charCodeAt(2) !== 45 || v.charCodeAt(35) !== 45 || v.charCodeAt(52) !== 45) return undefined;
  const version = v.slice(0, 2);
  if (version === 'ff' || (version === '00' && v.length !== 55)) return undefined;
  const traceId = v.slice(3, 35);
  const spanId = v.slice(36, 52);
  const flags = v.slice(53, 55);
  if (!isHex(traceId, 32) || !isHex(spanId, 16)) return undefined;
  const f = Number.parseInt(flags, 16);
  if (Number.isNaN(f)) return undefined;
  return { traceId, spanId, flags, sampled: (f & 1) === 1 };
}

function b3Sampled(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  return v === '1' || v === 'd' || v === 'true';
}

/** `traceid-spanid[-sampled[-parentspanid]]`; a lone sampling decision (`0`, `1`, `d`) carries no ids. */
function parseB3Single(v: string | undefined): Incoming | undefined {
  if (v === undefined) return undefined;
  const parts = v.split('-');
  const [traceId, spanId, sampled] = parts;
  if (traceId === undefined || spanId === undefined) return undefined;
  if (!(isHex(traceId, 32) || isHex(traceId, 16)) || !isHex(spanId, 16)) return undefined;
  const s = b3Sampled(sampled);
  return { traceId, spanId, ...(s !== undefined ? { sampled: s } : {}) };
}

/**
 * Rewrites the trace headers of `h` in place for the next hop and returns the ids this hop uses. The trace id
 * comes from traceparent, else x-b3-traceid, else b3; every format the request carried is rewritten with the new
 * span id (formats it did not carry stay absent, except that a new trace gets traceparent and x-b3-*).
 */
export function propagateTrace(h: HeaderBag, source: IdSource = randomIds): TraceIds {
  const tp = parseTraceparent(firstValue(h.traceparent));
  const b3TraceId = firstValue(h['x-b3-traceid']);
  const b3Multi: Incoming | undefined = b3TraceId !== undefined && (isHex(b3TraceId, 32) || isHex(b3TraceId, 16))
    ? { traceId: b3TraceId, ...spanOf(firstValue(h['x-b3-spanid'])), ...sampledOf(firstValue(h['x-b3-sampled']), firstValue(h['x-b3-flags'])) }
    : undefined;
  const single = parseB3Single(firstValue(h.b3));
  const incoming = tp ?? b3Multi ?? single;
  const spanId = newSpanId(source);
  if (!incoming) {
    const ids: TraceIds = { traceId: newTraceId(source), spanId, sampled: true };
    h.traceparent = `00-${ids.traceId}-${spanId}-01`;
    h['x-b3-traceid'] = ids.traceId;
    h['x-b3-spanid'] = spanId;
    h['x-b3-sampled'] = '1';
    if (h['x-b3-parentspanid'] !== undefined) delete h['x-b3-parentspanid'];
    return ids;
  }
  const sampled = incoming.sampled ?? true;
  const ids: TraceIds = { traceId: incoming.traceId, spanId, sampled, ...(incoming.spanId ? { parentSpanId: incoming.spanId } : {}) };
  if (tp) h.traceparent = `00-${padTrace(ids.traceId)}-${spanId}-${tp.flags}`;
  if (b3Multi) {
    h['x-b3-traceid'] = ids.traceId;
    h['x-b3-spanid'] = spanId;
    if (ids.parentSpanId) h['x-b3-parentspanid'] = ids.parentSpanId;
    else delete h['x-b3-parentspanid'];
  }
  if (single) {
    h.b3 = `${ids.traceId}-${spanId}-${single.sampled === false ? '0' : '1'}${ids.parentSpanId ? `-${ids.parentSpanId}` : ''}`;
  }
  return ids;
}

function padTrace(traceId: string): string {
  return traceId.length === 32 ? traceId : traceId.padStart(32, '0');
}

function spanOf(v: string | undefined): { spanId?: string } {
  return v !== undefined && isHex(v, 16) ? { spanId: v } : {};
}

function sampledOf(sampled: string | undefined, flags: string | undefined): { sampled?: boolean } {
  if (flags === '1') return { sampled: true };
  const s = b3Sampled(sampled);
  return s !== undefined ? { sampled: s } : {};
}
