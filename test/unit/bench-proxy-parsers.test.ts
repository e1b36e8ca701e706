// The proxy bench's parsers: wrk's Lua summary line, /proc/<pid>/stat CPU fields, percentiles and medians, and
// the report's goals when a variant could not run.
import { expect } from 'chai';
import { percentile } from '../../bench/proxy-load.ts';
import { nginxConf } from '../../bench/proxy-nginx.ts';
import { cpuTicksOf, whyLines } from '../../bench/proxy-procs.ts';
import { hotFunctions } from '../../bench/proxy-profile.ts';
import { median, summarize } from '../../bench/proxy-report.ts';
import { parseWrkOutput } from '../../bench/proxy-wrk.ts';

describe('bench proxy parsers', () => {
  it('reads requests per second and latency percentiles from the Lua done() line', () => {
    const out = 'Running 3s test @ http://127.0.0.1:1/\n  1 threads and 16 connections\n\nWRK_JSON {"requests":30000,"duration_us":3000000,"bytes":1,'
      + '"errors":{"connect":0,"read":1,"write":0,"status":2,"timeout":0},"latency_us":{"p50":250,"p90":1403,"p99":5524,"max":9000}}\n';
    const r = parseWrkOutput(out);
    expect(r.rps).to.equal(10000);
    expect(r.errors).to.equal(3);
    expect(r.latency_ms).to.deep.equal({ p50: 0.25, p90: 1.403, p99: 5.524 });
    expect(() => parseWrkOutput('no summary')).to.throw(/no summary/);
  });

  it('sums utime and stime even when the command name holds spaces and parentheses', () => {
    const stat = '1234 (node (weft) x) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 31 0 0 20 0 11 0 100 0 0';
    expect(cpuTicksOf(stat)).to.equal(281);
  });

  it('picks the error lines out of a JSON log tail, else its last lines', () => {
    const tail = '{"level":"info","msg":"a"}\n{"level":"error","msg":"b"}\n{"level":"info","msg":"c"}\n';
    expect(whyLines(tail)).to.equal('{"level":"error","msg":"b"}');
    expect(whyLines('one\ntwo\nthree\nfour\n')).to.equal('two | three | four');
  });

  it('takes nearest-rank percentiles and medians', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).to.equal(50);
    expect(percentile(xs, 90)).to.equal(90);
    expect(percentile(xs, 99)).to.equal(99);
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, 2, 3])).to.equal(2.5);
    expect(median([])).to.equal(null);
  });

  it('reports null values and unmet goals for variants that did not run, with their error', () => {
    const w = (rps: number) => ({ rps, requests: rps, errors: 0, duration_s: 1, latency_ms: { p50: 1, p90: 2, p99: 3 } });
    const s = summarize({ rounds: { direct: [w(10), w(30), w(20)], nginx: [w(10)] }, fixed: {}, rss: undefined, pairMtls: undefined, errors: { weft: 'boom' }, fixedRate: 1000 });
    expect(s.direct_rps).to.equal(20);
    expect(s.weft_rps).to.equal(null);
    expect(s.errors).to.deep.equal({ weft: 'boom' });
    expect((s.goals as Record<string, { met: boolean }>).weft_vs_nginx!.met).to.equal(false);
  });

  it('takes vCPU per 1000 requests/s per round, then the median, and checks it against its goal', () => {
    const w = (rps: number, vcpu: number) => ({ rps, requests: rps, errors: 0, duration_s: 1, vcpu, latency_ms: { p50: 1, p90: 2, p99: 3 } });
    const s = summarize({ rounds: { nginx: [w(10_000, 0)], weft: [w(8000, 0.8), w(10_000, 1), w(4000, 0.8)] }, fixed: {}, rss: undefined, pairMtls: undefined, errors: {}, fixedRate: 1000 });
    expect(s.vcpu_per_1k_rps).to.equal(0.1);
    expect(s.weft_vs_nginx).to.equal(0.8);
    const goals = s.goals as Record<string, { value: number; met: boolean }>;
    expect(goals.vcpu_per_1k_rps).to.include({ value: 0.1, met: true });
    expect(goals.weft_vs_nginx).to.include({ value: 0.8, met: true });
  });

  it('ranks a CPU profile\'s functions by self time among the busy samples', () => {
    const frame = (id: number, functionName: string, url = '', lineNumber = 0) => ({ id, callFrame: { functionName, url, lineNumber } });
    const profile = {
      nodes: [frame(1, '(idle)'), frame(2, 'route', 'file:///work/main/src/proxy/http/forward.ts', 9), frame(3, 'writeBuffer')],
      samples: [1, 1, 1, 1, 2, 2, 2, 3],
    };
    expect(hotFunctions(profile)).to.deep.equal([
      { fn: 'route src/proxy/http/forward.ts:10', self_pct: 75 },
      { fn: 'writeBuffer', self_pct: 25 },
    ]);
  });

  it('gives nginx one worker, a keep-alive upstream and no paths outside its prefix', () => {
    const conf = nginxConf('/tmp/p', 8081, 9000);
    expect(conf).to.match(/worker_processes 1;/);
    expect(conf).to.match(/keepalive 32;/);
    expect(conf).to.match(/proxy_set_header Connection "";/);
    expect(conf).to.match(/listen 127\.0\.0\.1:8081;/);
    expect(conf).to.match(/server 127\.0\.0\.1:9000;/);
  });
});
