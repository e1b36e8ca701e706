// The HTTP handler on what translate() writes for a real mesh (bookinfo's productpage calling reviews): the
// outbound listener for the service's ClusterIP and port, a VirtualService routing by header to subsets with a
// fault on one of them, and the default retry policy (503 retried on another host) — loopback servers standing
// in for the pods behind each subset cluster.
import { expect } from 'chai';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { translate } from '../../src/translate/index.ts';
import { app, clusterIPOf, destinationRule, snapshotOf, virtualService } from '../support/mesh-fixtures.ts';
import { FixtureCluster, FixtureClusters, makeRuntime, startProxy, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { ProxyFront, Upstream } from '../support/proxy-http-fixtures.ts';
import { send } from '../support/proxy-http-client.ts';

const HOST = 'reviews.bookinfo.svc.cluster.local';

describe('proxy http: translated bookinfo config', () => {
  const ups: Upstream[] = [];
  let clusters: FixtureClusters;
  let proxy: ProxyFront;
  let runtime: ReturnType<typeof makeRuntime>;
  let v1Failures = 0;

  before(async () => {
    const answer = (version: string, flaky = false) => (req: IncomingMessage, res: ServerResponse) => {
      if (flaky && v1Failures > 0) {
        v1Failures--;
        res.statusCode = 503;
        res.end('busy');
        return;
      }
      res.end(`${version} ${req.headers.host} ${req.url}`);
    };
    const v1a = await startUpstream(answer('v1a', true));
    const v1b = await startUpstream(answer('v1b', true));
    const v2 = await startUpstream(answer('v2'));
    ups.push(v1a, v1b, v2);
    const snap = snapshotOf(
      app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1', '10.0.0.3'], v2: ['10.0.0.2'] } }),
      app('productpage', 'bookinfo', { port: 9080, versions: { v1: ['10.0.1.1'] } }),
      {
        config: {
          destinationRules: [destinationRule('reviews', 'bookinfo', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] })],
          virtualServices: [virtualService('reviews', 'bookinfo', {
            hosts: ['reviews'],
            http: [
              { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
              { match: [{ uri: { prefix: '/broken' } }], fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }, route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
              { route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
            ],
          })],
        },
      },
    );
    const config = translate(snap.workload('bookinfo', 'productpage-v1')!, snap);
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster(`outbound|9080|v1|${HOST}`, [v1a.address, v1b.address]));
    clusters.add(new FixtureCluster(`outbound|9080|v2|${HOST}`, [v2.address]));
    runtime = makeRuntime(config, clusters);
    proxy = await startProxy(runtime, 'http1', 9080, { destinationIp: clusterIPOf('reviews', 'bookinfo') });
  });

  after(async () => {
    await proxy.close();
    await clusters.close();
    for (const u of ups) await u.close();
  });

  it('routes by header to the subset the VirtualService names', async () => {
    expect((await send(proxy.port, '/reviews/1', { headers: { host: 'reviews:9080', 'end-user': 'jason' } })).body).to.equal('v2 reviews:9080 /reviews/1');
    expect((await send(proxy.port, '/reviews/1', { headers: { host: 'reviews:9080' } })).body).to.match(/^v1[ab] reviews:9080 \/reviews\/1$/);
    const rec = runtime.telemetry.records.at(-1)!;
    expect(rec.upstreamCluster).to.equal(`outbound|9080|v1|${HOST}`);
  });

  it('applies the route fault', async () => {
    const r = await send(proxy.port, '/broken', { headers: { host: 'reviews.bookinfo.svc.cluster.local:9080' } });
    expect(r.status).to.equal(418);
    expect(runtime.telemetry.records.at(-1)!.flags).to.deep.equal(['FI']);
  });

  it('retries a 503 on another host with the default retry policy', async () => {
    v1Failures = 1;
    const c = clusters.map.get(`outbound|9080|v1|${HOST}`)!;
    c.picks.length = 0;
    const r = await send(proxy.port, '/again', { headers: { host: 'reviews:9080' } });
    expect(r.status).to.equal(200);
    expect(c.picks).to.have.length(2);
    expect(c.picks[1]!.attempted!.size).to.equal(1);
    expect(r.body.slice(0, 3)).to.not.equal([...c.picks[1]!.attempted!][0] === ups[0]!.address ? 'v1a' : 'v1b');
  });
});
