// The HTTP handler's pure decisions: trace context for the next hop, retry_on conditions and back-off, CORS,
// consistent-hash keys, fault draws, and header plumbing (hop-by-hop removal, shadow authority).
import { expect } from 'chai';
import { corsDecision } from '../../src/proxy/http/cors.ts';
import { faultDecision } from '../../src/proxy/http/fault.ts';
import { hashKey } from '../../src/proxy/http/hash-key.ts';
import { applyHeaderOps, shadowAuthority, stripHopByHop } from '../../src/proxy/http/headers.ts';
import { backoffMs, retriableFailure, retriableResponse } from '../../src/proxy/http/retry-policy.ts';
import { idsFrom, parseTraceparent, propagateTrace } from '../../src/proxy/http/trace.ts';
import { makeHttpRequest } from '../../src/proxy/routing/request.ts';
import { sequence } from '../support/proxy-http-fixtures.ts';

describe('proxy http: trace propagation', () => {
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const span = '00f067aa0ba902b7';

  it('keeps the W3C trace id and flags, makes a new span id, and reports the incoming span as parent', () => {
    const h: Record<string, string> = { traceparent: `00-${trace}-${span}-00`, tracestate: 'a=b' };
    const ids = propagateTrace(h, idsFrom(sequence([0.25, 0.5])));
    expect(ids).to.deep.equal({ traceId: trace, spanId: '4000000080000000', parentSpanId: span, sampled: false });
    expect(h.traceparent).to.equal(`00-${trace}-4000000080000000-00`);
    expect(h.tracestate).to.equal('a=b');
    expect(h['x-b3-traceid']).to.equal(undefined);
  });

  it('rewrites B3 multi and single headers', () => {
    const multi: Record<string, string> = { 'x-b3-traceid': span, 'x-b3-spanid': span, 'x-b3-sampled': '0' };
    const ids = propagateTrace(multi, idsFrom(() => 0.1));
    expect(multi['x-b3-traceid']).to.equal(span);
    expect(multi['x-b3-parentspanid']).to.equal(span);
    expect(multi['x-b3-spanid']).to.equal(ids.spanId).and.not.equal(span);
    expect(ids.sampled).to.equal(false);
    const single: Record<string, string> = { b3: `${trace}-${span}-1` };
    const s = propagateTrace(single, idsFrom(() => 0.1));
    expect(single.b3).to.equal(`${trace}-${s.spanId}-1-${span}`);
  });

  it('starts a trace when none is present and ignores malformed context', () => {
    const h: Record<string, string> = { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' };
    const ids = propagateTrace(h);
    expect(ids.traceId).to.match(/^[0-9a-f]{32}$/).and.not.equal('0'.repeat(32));
    expect(h.traceparent).to.equal(`00-${ids.traceId}-${ids.spanId}-01`);
    expect(h['x-b3-traceid']).to.equal(ids.traceId);
    expect(parseTraceparent('ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).to.equal(undefined);
    expect(parseTraceparent(`00-${trace}-${span}-01-extra`)).to.equal(undefined);
  });
});

describe('proxy http: retry policy', () => {
  const p = (retryOn: string, codes?: number[]) => ({ numRetries: 2, retryOn: retryOn.split(','), ...(codes ? { retriableStatusCodes: codes } : {}) });

  it('retries responses by retry_on', () => {
    expect(retriableResponse(p('5xx'), 500, undefined)).to.equal(true);
    expect(retriableResponse(p('5xx'), 404, undefined)).to.equal(false);
    expect(retriableResponse(p('gateway-error'), 500, undefined)).to.equal(false);
    expect(retriableResponse(p('gateway-error'), 504, undefined)).to.equal(true);
    expect(retriableResponse(p('retriable-4xx'), 409, undefined)).to.equal(true);
    expect(retriableResponse(p('retriable-status-codes', [418]), 418, undefined)).to.equal(true);
    expect(retriableResponse(p('connect-failure,refused-stream'), 503, undefined)).to.equal(false);
    expect(retriableResponse(p('unavailable,cancelled'), 200, '14')).to.equal(true);
    expect(retriableResponse(p('unavailable,cancelled'), 200, '1')).to.equal(true);
    expect(retriableResponse(p('unavailable'), 200, '13')).to.equal(false);
    expect(retriableResponse(p('internal,deadline-exceeded,resource-exhausted'), 200, '4')).to.equal(true);
  });

  it('retries failures without a response by retry_on', () => {
    expect(retriableFailure(p('connect-failure'), 'connect-failure')).to.equal(true);
    expect(retriableFailure(p('connect-failure'), 'reset')).to.equal(false);
    expect(retriableFailure(p('reset'), 'per-try-timeout')).to.equal(true);
    expect(retriableFailure(p('5xx'), 'reset')).to.equal(true);
    expect(retriableFailure(p('refused-stream'), 'refused-stream')).to.equal(true);
    expect(retriableFailure(p('retriable-status-codes'), 'connect-failure')).to.equal(false);
  });

  it('backs off with full jitter up to (2^n - 1) × 25 ms, capped at 250 ms', () => {
    expect(backoffMs(1, 0.999)).to.equal(24);
    expect(backoffMs(2, 0.999)).to.equal(74);
    expect(backoffMs(3, 0.5)).to.equal(87);
    expect(backoffMs(10, 0.999)).to.equal(249);
    expect(backoffMs(1, 0)).to.equal(0);
  });
});

describe('proxy http: CORS, hash keys, faults, headers', () => {
  const policy = { allowOriginStringMatch: [{ prefix: 'https://app.' }], allowMethods: 'GET', exposeHeaders: 'x-a', forwardNotMatchingPreflights: { value: false } };

  it('decides CORS preflights and actual requests by origin', () => {
    expect(corsDecision(policy, 'GET', undefined, undefined, 0).kind).to.equal('none');
    expect(corsDecision(policy, 'OPTIONS', 'https://app.x', 'GET', 0)).to.deep.equal({
      kind: 'preflight', headers: { 'access-control-allow-origin': 'https://app.x', 'access-control-allow-methods': 'GET' },
    });
    expect(corsDecision(policy, 'OPTIONS', 'https://evil', 'GET', 0)).to.deep.equal({ kind: 'preflight', headers: {} });
    expect(corsDecision(policy, 'GET', 'https://app.y', undefined, 0)).to.deep.equal({
      kind: 'actual', headers: { 'access-control-allow-origin': 'https://app.y', 'access-control-expose-headers': 'x-a' },
    });
    const half = { ...policy, filterEnabled: { defaultValue: { numerator: 50 } } };
    expect(corsDecision(half, 'GET', 'https://app.y', undefined, 0.9).kind).to.equal('none');
    expect(corsDecision({ allowOriginStringMatch: [{ exact: '*' }] }, 'GET', 'https://any', undefined, 0).kind).to.equal('actual');
  });

  it('builds hash keys from header, cookie, source IP and query parameter; generates a missing cookie with a ttl', () => {
    const req = makeHttpRequest({ host: 'h', path: '/p?user=u1', headers: { 'x-user': 'alice', cookie: 'a=1; session="s1"' } });
    expect(hashKey([{ header: { headerName: 'x-user' } }], req, '10.0.0.9', Math.random).key).to.equal('alice');
    expect(hashKey([{ cookie: { name: 'session' } }], req, undefined, Math.random).key).to.equal('s1');
    expect(hashKey([{ connectionProperties: { sourceIp: true } }], req, '10.0.0.9', Math.random).key).to.equal('10.0.0.9');
    expect(hashKey([{ queryParameter: { name: 'user' } }], req, undefined, Math.random).key).to.equal('u1');
    expect(hashKey([{ header: { headerName: 'x-user' }, terminal: true }, { queryParameter: { name: 'user' } }], req, undefined, Math.random).key).to.equal('alice');
    const gen = hashKey([{ cookie: { name: 'sticky', ttl: { seconds: 60 }, path: '/' } }], req, undefined, () => 0.5);
    expect(gen.key).to.equal('8000000080000000');
    expect(gen.setCookie).to.equal('sticky="8000000080000000"; Max-Age=60; Path=/; HttpOnly');
    expect(hashKey([{ header: { headerName: 'x-none' } }], req, undefined, Math.random)).to.deep.equal({});
  });

  it('draws faults against their percentages and reads header-controlled faults', () => {
    const req = makeHttpRequest({ host: 'h', headers: { 'x-envoy-fault-abort-request': '429', 'x-envoy-fault-delay-request': '30' } });
    expect(faultDecision({ abort: { httpStatus: 503, percent: 10 } }, req, () => 0.05)).to.deep.equal({ abort: { httpStatus: 503 } });
    expect(faultDecision({ abort: { httpStatus: 503, percent: 10 } }, req, () => 0.5)).to.deep.equal({});
    expect(faultDecision({ abort: { grpcStatus: 14, percent: 100 } }, req, () => 0.5)).to.deep.equal({ abort: { httpStatus: 200, grpcStatus: 14 } });
    expect(faultDecision({ abort: { fromHeader: true, percent: 100 }, delay: { fromHeader: true, percent: 100 } }, req, () => 0)).to.deep.equal({
      delayMs: 30, abort: { httpStatus: 429 },
    });
  });

  it('strips hop-by-hop headers (keeping te: trailers for gRPC), applies header ops, and builds shadow authorities', () => {
    const h: Record<string, string | string[]> = { connection: 'keep-alive, x-hop', 'x-hop': '1', te: 'trailers', 'transfer-encoding': 'chunked', 'x-keep': 'k' };
    stripHopByHop(h, true);
    expect(h).to.deep.equal({ te: 'trailers', 'x-keep': 'k' });
    applyHeaderOps(h, [{ op: 'append', name: 'x-keep', value: 'k2' }, { op: 'add-if-absent', name: 'x-keep', value: 'no' }, { op: 'remove', name: 'te' }, { op: 'overwrite-if-exists', name: 'x-none', value: 'v' }]);
    expect(h).to.deep.equal({ 'x-keep': ['k', 'k2'] });
    expect(shadowAuthority('reviews:9080')).to.equal('reviews-shadow:9080');
    expect(shadowAuthority('reviews')).to.equal('reviews-shadow');
    expect(shadowAuthority('[::1]:80')).to.equal('[::1]-shadow:80');
  });
});
