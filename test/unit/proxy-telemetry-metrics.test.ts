// Istio's standard metrics in the Prometheus text format: every line parses, the label names are Istio's (in
// Istio's order), unknown values read "unknown", histograms have Istio's bounds with cumulative buckets, +Inf,
// _sum and _count; label values are escaped. The access log writes one JSON line per request in batches.
import { expect } from 'chai';
import { bufferedWriter, httpLogLine } from '../../src/proxy/telemetry/access-log.ts';
import { createTelemetry, DESTINATION_LABELS, DURATION_BUCKETS_MS, SIZE_BUCKETS_BYTES, SOURCE_LABELS } from '../../src/proxy/telemetry/istio.ts';
import { Counter, Registry } from '../../src/proxy/telemetry/registry.ts';
import type { HttpRecord, TcpRecord } from '../../src/proxy/runtime.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict parser for the text format: comment lines, then `name{l="v",...} value`. */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  expect(text.endsWith('\n')).to.equal(true);
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) continue;
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/.exec(line);
    if (t) {
      types.set(t[1]!, t[2]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(m, `line: ${line}`).to.not.equal(null);
    const labels: Record<string, string> = {};
    let rest = m![2] ?? '';
    while (rest) {
      const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/.exec(rest);
      expect(l, `labels: ${rest}`).to.not.equal(null);
      labels[l![1]!] = l![2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      rest = rest.slice(l![0].length);
    }
    const value = m![3] === '+Inf' ? Infinity : Number(m![3]);
    expect(Number.isNaN(value), `value: ${line}`).to.equal(false);
    samples.push({ name: m![1]!, labels, value });
  }
  return { samples, types };
}

const peer = { workload: 'productpage-v1', namespace: 'bookinfo', app: 'productpage', version: 'v1', principal: 'spiffe://cluster.local/ns/bookinfo/sa/productpage' };

function http(over: Partial<HttpRecord> = {}): HttpRecord {
  return {
    reporter: 'source', startTime: Date.parse('2026-11-22T00:00:00Z'), durationMs: 7, method: 'GET', authority: 'reviews:9080', path: '/r',
    requestProtocol: 'http', httpVersion: 'HTTP/1.1', status: 200, flags: [], requestBytes: 0, responseBytes: 1500,
    route: 'default', upstreamCluster: 'outbound|9080||reviews.bookinfo.svc.cluster.local', upstreamHost: '10.0.0.1:9080',
    downstreamRemote: '10.0.1.1:40000', source: peer,
    destination: { workload: 'reviews-v1', namespace: 'bookinfo', app: 'reviews', version: 'v1', service: { host: 'reviews.bookinfo.svc.cluster.local', name: 'reviews', namespace: 'bookinfo' } },
    connectionSecurityPolicy: 'unknown', requestId: 'rid-1', traceId: 'a'.repeat(32), userAgent: 'curl/8',
    ...over,
  };
}

describe('proxy telemetry: Istio metrics', () => {
  it('renders istio_requests_total with Istio label names and values', () => {
    const t = createTelemetry();
    t.http(http());
    t.http(http({ status: 503, flags: ['UH'], destination: {} }));
    const { samples, types } = parse(t.render());
    expect(types.get('istio_requests_total')).to.equal('counter');
    expect(types.get('istio_request_duration_milliseconds')).to.equal('histogram');
    const reqs = samples.filter((s) => s.name === 'istio_requests_total');
    expect(reqs).to.have.length(2);
    expect(Object.keys(reqs[0]!.labels)).to.deep.equal([
      'reporter', ...SOURCE_LABELS, ...DESTINATION_LABELS, 'request_protocol', 'response_code', 'grpc_response_status', 'response_flags', 'connection_security_policy',
    ]);
    expect(reqs[0]!.labels).to.deep.include({
      reporter: 'source', source_workload: 'productpage-v1', source_canonical_service: 'productpage', source_canonical_revision: 'v1',
      source_workload_namespace: 'bookinfo', source_principal: peer.principal, source_app: 'productpage', source_version: 'v1', source_cluster: 'Kubernetes',
      destination_workload: 'reviews-v1', destination_service: 'reviews.bookinfo.svc.cluster.local', destination_service_name: 'reviews',
      destination_service_namespace: 'bookinfo', destination_principal: 'unknown', request_protocol: 'http', response_code: '200',
      response_flags: '-', connection_security_policy: 'unknown',
    });
    expect(reqs[0]!.value).to.equal(1);
    expect(reqs[1]!.labels).to.deep.include({
      destination_workload: 'unknown', destination_service: 'unknown', destination_cluster: 'unknown', response_code: '503', response_flags: 'UH',
    });
  });

  it('counts repeated records into one series', () => {
    const t = createTelemetry();
    for (let i = 0; i < 3; i++) t.http(http({ source: { ...peer } }));
    const reqs = parse(t.render()).samples.filter((s) => s.name === 'istio_requests_total');
    expect(reqs.map((s) => s.value)).to.deep.equal([3]);
  });

  it('fills histograms with Istio bounds, cumulative buckets, +Inf, _sum and _count', () => {
    const t = createTelemetry();
    for (const d of [0.2, 7, 7, 40_000, 5_000_000]) t.http(http({ durationMs: d }));
    const { samples } = parse(t.render());
    const buckets = samples.filter((s) => s.name === 'istio_request_duration_milliseconds_bucket');
    expect(buckets.map((s) => s.labels.le)).to.deep.equal([...DURATION_BUCKETS_MS.map(String), '+Inf']);
    const at = (le: string) => buckets.find((s) => s.labels.le === le)!.value;
    expect([at('0.5'), at('5'), at('10'), at('30000'), at('60000'), at('3600000'), at('+Inf')]).to.deep.equal([1, 1, 3, 3, 4, 4, 5]);
    expect(samples.find((s) => s.name === 'istio_request_duration_milliseconds_sum')!.value).to.equal(0.2 + 7 + 7 + 40_000 + 5_000_000);
    expect(samples.find((s) => s.name === 'istio_request_duration_milliseconds_count')!.value).to.equal(5);
    const sizes = samples.filter((s) => s.name === 'istio_response_bytes_bucket');
    expect(sizes.map((s) => s.labels.le)).to.deep.equal([...SIZE_BUCKETS_BYTES.map(String), '+Inf']);
    // 1500 bytes: above 1000, within 10000 (le is inclusive).
    expect(sizes.find((s) => s.labels.le === '1000')!.value).to.equal(0);
    expect(sizes.find((s) => s.labels.le === '10000')!.value).to.equal(5);
    expect(samples.find((s) => s.name === 'istio_request_bytes_bucket' && s.labels.le === '1')!.value).to.equal(5);
  });

  it('reports TCP connections and bytes', () => {
    const t = createTelemetry();
    const rec: TcpRecord = { reporter: 'destination', startTime: 0, sentBytes: 0, receivedBytes: 10, flags: [], source: {}, destination: { workload: 'db' }, connectionSecurityPolicy: 'mutual_tls' };
    t.tcpOpen(rec);
    t.tcpClose({ ...rec, sentBytes: 100, receivedBytes: 5, durationMs: 12 });
    const { samples } = parse(t.render());
    const v = (name: string) => samples.filter((s) => s.name === name).map((s) => s.value);
    expect(v('istio_tcp_connections_opened_total')).to.deep.equal([1]);
    expect(v('istio_tcp_connections_closed_total')).to.deep.equal([1]);
    expect(v('istio_tcp_sent_bytes_total')).to.deep.equal([100]);
    expect(v('istio_tcp_received_bytes_total')).to.deep.equal([15]);
    const s = samples.find((x) => x.name === 'istio_tcp_sent_bytes_total')!;
    expect(s.labels).to.deep.include({ reporter: 'destination', request_protocol: 'tcp', connection_security_policy: 'mutual_tls', destination_workload: 'db', source_workload: 'unknown' });
    expect(s.labels).to.not.have.property('response_code');
  });

  it('escapes label values and HELP text', () => {
    const r = new Registry();
    const c = r.register(new Counter('x_total', 'a \\ help\nline'));
    c.add('k', () => 'v="a\\"b\\\\c\\nd"');
    const t = createTelemetry();
    t.http(http({ grpcStatus: 'we"ird\\\n', requestProtocol: 'grpc' }));
    expect(r.render()).to.equal('# HELP x_total a \\\\ help\\nline\n# TYPE x_total counter\nx_total{v="a\\"b\\\\c\\nd"} 1\n');
    const s = parse(t.render()).samples.find((x) => x.name === 'istio_requests_total')!;
    expect(s.labels.grpc_response_status).to.equal('we"ird\\\n');
    expect(s.labels.request_protocol).to.equal('grpc');
  });
});

describe('proxy telemetry: access log', () => {
  it('writes Envoy-named fields, flags as a comma list or "-"', () => {
    const line = JSON.parse(httpLogLine(http({ flags: ['UT', 'URX'], status: 504 })));
    expect(line).to.deep.include({
      start_time: '2026-11-22T00:00:00.000Z', method: 'GET', path: '/r', protocol: 'HTTP/1.1', response_code: 504, response_flags: 'UT,URX',
      bytes_received: 0, bytes_sent: 1500, duration: 7, upstream_host: '10.0.0.1:9080', upstream_cluster: 'outbound|9080||reviews.bookinfo.svc.cluster.local',
      user_agent: 'curl/8', request_id: 'rid-1', authority: 'reviews:9080', trace_id: 'a'.repeat(32), route_name: 'default', downstream_remote_address: '10.0.1.1:40000',
    });
    expect(JSON.parse(httpLogLine(http())).response_flags).to.equal('-');
  });

  it('batches lines into one write per flush', async () => {
    const chunks: string[] = [];
    const t = createTelemetry({ accessLog: bufferedWriter((c) => chunks.push(c), { flushMs: 10 }) });
    for (let i = 0; i < 50; i++) t.http(http({ requestId: `r${i}` }));
    expect(chunks).to.have.length(0);
    await new Promise((r) => setTimeout(r, 30));
    expect(chunks).to.have.length(1);
    const lines = chunks[0]!.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.request_id)).to.deep.equal(Array.from({ length: 50 }, (_, i) => `r${i}`));
    t.http(http());
    t.close();
    expect(chunks).to.have.length(2);
  });

  it('flushes at once when the buffer is large', () => {
    const chunks: string[] = [];
    const w = bufferedWriter((c) => chunks.push(c), { flushMs: 10_000, maxChars: 100 });
    w.write('x'.repeat(60));
    expect(chunks).to.have.length(0);
    w.write('y'.repeat(60));
    expect(chunks).to.deep.equal([`${'x'.repeat(60)}\n${'y'.repeat(60)}\n`]);
    w.close();
  });
});
