// Route timeouts, retries (retry_on conditions, per-try timeouts, budget, previous hosts, exhausted → URX),
// connect failures (UF), fault injection (abort percentage, delay) and mirroring through the HTTP handler,
// against real loopback upstreams.
import { expect } from 'chai';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FAULT, httpProxy, routeConfig, vhost } from '../support/envoy-objects.ts';
import { FixtureCluster, FixtureClusters, makeRuntime, startProxy, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { ProxyFront, Upstream } from '../support/proxy-http-fixtures.ts';
import { freePort } from '../support/proxy-net-fixtures.ts';
import { send } from '../support/proxy-http-client.ts';

const ms = (n: number) => ({ nanos: n * 1_000_000 });
const route = (name: string, prefix: string, action: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  ({ name, match: { prefix }, route: action, ...extra });

describe('proxy http: timeouts, retries, faults, mirrors', () => {
  const upstreams: Upstream[] = [];
  let proxy: ProxyFront;
  let clusters: FixtureClusters;
  let runtime: ReturnType<typeof makeRuntime>;
  let rand = 0.1;
  let flaky: Upstream;
  let failures = 0;
  let status = 503;
  let hang: Upstream;
  let hangFirst: Upstream;
  let ok: Upstream;
  let mirror: Upstream;
  let dead: string;

  before(async () => {
    const up = async (h: (req: IncomingMessage, res: ServerResponse, body: string) => void) => {
      const u = await startUpstream(h);
      upstreams.push(u);
      return u;
    };
    flaky = await up((_req, res, body) => {
      if (failures > 0) {
        failures--;
        res.statusCode = status;
        res.end('fail');
      } else {
        res.end(`ok:${body}`);
      }
    });
    hang = await up(() => {});
    let n = 0;
    hangFirst = await up((_req, res) => {
      if (n++ === 0) return;
      res.end('second');
    });
    ok = await up((_req, res) => res.end('ok'));
    mirror = await up((_req, res) => setTimeout(() => res.end('mirror'), 300));
    dead = `127.0.0.1:${await freePort()}`;
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster('flaky', [flaky.address]));
    clusters.add(new FixtureCluster('hang', [hang.address]));
    clusters.add(new FixtureCluster('hangFirst', [hangFirst.address]));
    clusters.add(new FixtureCluster('ok', [ok.address]));
    clusters.add(new FixtureCluster('mirror', [mirror.address]));
    clusters.add(new FixtureCluster('deadThenOk', [dead, ok.address]));
    clusters.add(new FixtureCluster('dead', [dead]));
    clusters.add(new FixtureCluster('noBudget', [flaky.address], { maxRetries: 0 }));
    const retry = (retryOn: string, extra: Record<string, unknown> = {}) => ({ retryOn, numRetries: { value: 2 }, ...extra });
    const fault = (config: Record<string, unknown>) => ({ typedPerFilterConfig: { 'envoy.filters.http.fault': { '@type': FAULT, ...config } } });
    const rc = routeConfig('8080', [vhost('web', ['*'], [
      route('timeout', '/timeout', { cluster: 'hang', timeout: ms(100) }),
      route('retry5xx', '/retry-5xx', { cluster: 'flaky', retryPolicy: retry('5xx') }),
      route('retryConnect', '/retry-connect-only', { cluster: 'flaky', retryPolicy: retry('connect-failure') }),
      route('retryCodes', '/retry-codes', { cluster: 'flaky', retryPolicy: retry('retriable-status-codes', { retriableStatusCodes: [418] }) }),
      route('budget', '/budget', { cluster: 'noBudget', retryPolicy: retry('5xx') }),
      route('perTry', '/per-try', { cluster: 'hangFirst', timeout: ms(2000), retryPolicy: retry('5xx', { perTryTimeout: ms(100) }) }),
      route('prevHosts', '/prev-hosts', {
        cluster: 'deadThenOk',
        retryPolicy: retry('connect-failure', { retryHostPredicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }] }),
      }),
      route('dead', '/dead', { cluster: 'dead' }),
      route('abort', '/abort', { cluster: 'ok' }, fault({ abort: { httpStatus: 503, percentage: { numerator: 50 } } })),
      route('delay', '/delay', { cluster: 'ok' }, fault({ delay: { fixedDelay: ms(80), percentage: { numerator: 100 } } })),
      route('mirror', '/mirror', { cluster: 'ok', requestMirrorPolicies: [{ cluster: 'mirror' }] }),
      route('mirrorHalf', '/half-mirror', { cluster: 'ok', requestMirrorPolicies: [{ cluster: 'mirror', runtimeFraction: { defaultValue: { numerator: 50 } } }] }),
    ])]);
    runtime = makeRuntime(httpProxy(8080, rc), clusters, () => rand);
    proxy = await startProxy(runtime, 'http1', 8080);
  });

  after(async () => {
    await proxy.close();
    await clusters.close();
    for (const u of upstreams) await u.close();
  });

  beforeEach(() => {
    runtime.telemetry.records.length = 0;
    rand = 0.1;
    status = 503;
  });

  const lastFlags = () => runtime.telemetry.records.at(-1)?.flags.join(',');

  it('answers 504 with flag UT when the route timeout passes', async () => {
    const t = performance.now();
    const r = await send(proxy.port, '/timeout');
    expect(r.status).to.equal(504);
    expect(r.body).to.equal('upstream request timeout');
    expect(performance.now() - t).to.be.within(90, 1000);
    expect(lastFlags()).to.equal('UT');
  });

  it('retries hide a flaky upstream and replay the request body', async () => {
    failures = 2;
    const before = flaky.hits.length;
    const r = await send(proxy.port, '/retry-5xx', { method: 'POST', body: 'payload' });
    expect(r.status).to.equal(200);
    expect(r.body).to.equal('ok:payload');
    expect(flaky.hits.length - before).to.equal(3);
    expect(flaky.bodies.slice(-3)).to.deep.equal(['payload', 'payload', 'payload']);
  });

  it('passes the last response through with URX when retries are exhausted', async () => {
    failures = 5;
    const before = flaky.hits.length;
    const r = await send(proxy.port, '/retry-5xx');
    expect(r.status).to.equal(503);
    expect(flaky.hits.length - before).to.equal(3);
    expect(lastFlags()).to.equal('URX');
    failures = 0;
  });

  it('does not retry what retry_on does not name', async () => {
    failures = 1;
    status = 500;
    const before = flaky.hits.length;
    const r = await send(proxy.port, '/retry-connect-only');
    expect(r.status).to.equal(500);
    expect(flaky.hits.length - before).to.equal(1);
    failures = 0;
  });

  it('retries retriable-status-codes only for the listed codes', async () => {
    failures = 1;
    status = 418;
    expect((await send(proxy.port, '/retry-codes')).status).to.equal(200);
    failures = 1;
    status = 503;
    expect((await send(proxy.port, '/retry-codes')).status).to.equal(503);
    failures = 0;
  });

  it('does not retry when the retry budget is exhausted', async () => {
    failures = 1;
    const before = flaky.hits.length;
    expect((await send(proxy.port, '/budget')).status).to.equal(503);
    expect(flaky.hits.length - before).to.equal(1);
    failures = 0;
  });

  it('retries a try that exceeds the per-try timeout', async () => {
    const r = await send(proxy.port, '/per-try');
    expect(r.status).to.equal(200);
    expect(r.body).to.equal('second');
    expect(hangFirst.hits.length).to.equal(2);
  });

  it('retries a connect failure on another host (previous hosts), and answers 503 UF without retries', async () => {
    const c = clusters.map.get('deadThenOk')!;
    const r = await send(proxy.port, '/prev-hosts');
    expect(r.status).to.equal(200);
    expect(c.picks.at(-1)!.attempted).to.deep.equal(new Set([dead]));
    expect(c.reports.map((x) => x.outcome.kind)).to.deep.equal(['connect-failure', 'response']);
    const d = await send(proxy.port, '/dead');
    expect(d.status).to.equal(503);
    expect(d.body).to.contain('connection failure');
    expect(lastFlags()).to.equal('UF');
  });

  it('aborts by the fault percentage (FI) and lets the rest through', async () => {
    const before = ok.hits.length;
    rand = 0.1;
    const aborted = await send(proxy.port, '/abort');
    expect(aborted.status).to.equal(503);
    expect(aborted.body).to.equal('fault filter abort');
    expect(lastFlags()).to.equal('FI');
    rand = 0.9;
    expect((await send(proxy.port, '/abort')).status).to.equal(200);
    expect(ok.hits.length - before).to.equal(1);
  });

  it('delays by the fault delay (DI)', async () => {
    const t = performance.now();
    const r = await send(proxy.port, '/delay');
    expect(r.status).to.equal(200);
    expect(performance.now() - t).to.be.at.least(75);
    expect(lastFlags()).to.equal('DI');
  });

  it('mirrors by the mirror percentage', async () => {
    const before = mirror.hits.length;
    // Each request says which random value it drew, so the test sees which one was mirrored.
    rand = 0.9;
    expect((await send(proxy.port, '/half-mirror?rand=0.9')).status).to.equal(200);
    rand = 0.1;
    expect((await send(proxy.port, '/half-mirror?rand=0.1')).status).to.equal(200);
    for (let i = 0; i < 50 && mirror.hits.length === before; i++) await new Promise((res) => setTimeout(res, 10));
    await new Promise((res) => setTimeout(res, 20));
    expect(mirror.hits.length - before).to.equal(1);
    expect(mirror.hits.at(-1)!.url).to.equal('/half-mirror?rand=0.1');
  });

  it('mirrors a copy with a -shadow authority without waiting for it', async () => {
    const t = performance.now();
    const r = await send(proxy.port, '/mirror', { method: 'POST', body: 'copy me' });
    expect(r.status).to.equal(200);
    expect(r.body).to.equal('ok');
    expect(performance.now() - t).to.be.below(250);
    for (let i = 0; i < 50 && mirror.bodies.length === 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(mirror.hits.at(-1)!.headers.host).to.equal('example.com-shadow');
    expect(mirror.bodies.at(-1)).to.equal('copy me');
  });
});
