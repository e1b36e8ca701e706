// The cluster manager reads what translation writes: golden configs' clusters and assignments (circuit
// breakers, connect timeout, HTTP/2, panic threshold, host metadata, balancer kinds), weft's PEAK_EWMA marker in
// cluster metadata (also against real servers of different speed), and locality weights.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse } from 'yaml';
import { lbOptions } from '../../src/proxy/upstream/lb-config.ts';
import { connectionSettings } from '../../src/proxy/upstream/pools.ts';
import { thresholdsOf } from '../../src/proxy/upstream/breaker.ts';
import { createClusterManager } from '../../src/proxy/upstream/index.ts';
import type { WeftClusterManager } from '../../src/proxy/upstream/index.ts';
import { countBy, loaded, mapFiles, namedServer, seeded, staticCluster } from '../support/proxy-upstream-fixtures.ts';
import type { NamedServer } from '../support/proxy-upstream-fixtures.ts';

type O = Record<string, unknown>;

function golden(name: string): { clusters: O[]; endpoints: O[] } {
  return parse(readFileSync(new URL(`../golden/${name}.golden.yaml`, import.meta.url), 'utf8')) as { clusters: O[]; endpoints: O[] };
}

const files = mapFiles({});

describe('proxy upstream: configs from translation', function () {
  this.timeout(10_000);
  let manager: WeftClusterManager | undefined;
  let servers: NamedServer[] = [];
  afterEach(async () => {
    await manager?.close();
    manager = undefined;
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
  });

  it('reads a DestinationRule traffic policy: breakers, timeouts, HTTP/2, host metadata, service', () => {
    const g = golden('dr-traffic-policy');
    manager = createClusterManager();
    manager.update(loaded(g.clusters, g.endpoints), files);
    const name = 'outbound|8080|v1|catalog.shop.svc.cluster.local';
    const c = manager.get(name)!;
    expect(c.connectTimeoutMs).to.equal(3000);
    expect(c.service).to.deep.equal({ host: 'catalog.shop.svc.cluster.local', name: 'catalog', namespace: 'shop' });
    const h = c.pick({})!;
    expect(h.address).to.equal('10.0.2.1:8080');
    expect(h.metadata).to.include({ workload: 'catalog-v1', version: 'v1', namespace: 'shop' });
    const cluster = g.clusters.find((x) => x.name === name)!;
    const t = thresholdsOf(cluster);
    expect(t).to.deep.equal({ maxConnections: 100, maxPendingRequests: 50, maxRequests: 500, maxRetries: 4, retryBudget: { percent: 25, minConcurrency: 5 } });
    expect(connectionSettings(cluster, t)).to.include({ protocol: 'http2', idleTimeoutMs: 30_000, maxRequestsPerConnection: 10, maxConnections: 100 });
    // HTTP/2 carries many requests per connection: max_requests (500) is the bound that applies.
    const admitted = Array.from({ length: 500 }, () => c.admitRequest());
    expect(admitted.every((a) => typeof a === 'function')).to.equal(true);
    expect(c.admitRequest()).to.equal(undefined);
    expect(c.admitRetry()).to.be.a('function');
    // The fallback clusters are there too.
    expect(manager.get('PassthroughCluster')!.pick({ originalDestination: '10.9.9.9:80' })!.address).to.equal('10.9.9.9:80');
  });

  it('reads each DestinationRule load balancer', () => {
    const g = golden('dr-load-balancer');
    const kind = (host: string) => lbOptions(g.clusters.find((c) => c.name === `outbound|8080||${host}.shop.svc.cluster.local`)!).kind;
    expect(kind('frontend')).to.equal('LEAST_REQUEST');
    expect(kind('sticky')).to.equal('RING_HASH');
    expect(kind('maglev')).to.equal('MAGLEV');
    manager = createClusterManager();
    manager.update(loaded(g.clusters, g.endpoints), files);
    const maglev = manager.get('outbound|8080||maglev.shop.svc.cluster.local')!;
    expect(maglev.pick({ hashKey: 'u1' })!.address).to.equal('10.1.3.1:8080');
  });

  it('PEAK_EWMA is chosen by weft metadata in Struct or plain form', () => {
    expect(lbOptions({ lbPolicy: 'LEAST_REQUEST', metadata: { filterMetadata: { weft: { fields: { lb: { stringValue: 'PEAK_EWMA' } } } } } }).kind).to.equal('PEAK_EWMA');
    expect(lbOptions({ metadata: { filterMetadata: { weft: { lb: 'PEAK_EWMA', ewmaDecayMs: 500 } } } })).to.deep.equal({ kind: 'PEAK_EWMA', decayMs: 500 });
    expect(lbOptions({ lbPolicy: 1, leastRequestLbConfig: { choiceCount: { value: 3 } } })).to.deep.equal({ kind: 'LEAST_REQUEST', choiceCount: 3 });
    expect(lbOptions({}).kind).to.equal('ROUND_ROBIN');
  });

  it('peak EWMA sends most requests to the faster of two real servers', async () => {
    servers = [await namedServer('fast'), await namedServer('slow', (_req, res) => { setTimeout(() => res.end('slow'), 40); })];
    manager = createClusterManager({ random: seeded(11) });
    manager.update(loaded([staticCluster('ewma', servers.map((s) => s.address), { metadata: { filterMetadata: { weft: { lb: 'PEAK_EWMA' } } } })]), files);
    const c = manager.get('ewma')!;
    // Connections are opened first, so that no measurement includes a TCP handshake.
    for (const s of servers) await (await c.dispatcher({ address: s.address, host: '127.0.0.1', port: s.port, metadata: {} }).request({ method: 'GET', path: '/' })).body.text();
    const bodies: string[] = [];
    for (let i = 0; i < 30; i++) {
      const h = c.pick({})!;
      const start = performance.now();
      const res = await c.dispatcher(h).request({ method: 'GET', path: '/' });
      bodies.push(await res.body.text());
      c.report(h, { kind: 'response', status: res.statusCode, latencyMs: performance.now() - start });
    }
    const counts = countBy(bodies);
    expect(counts.get('fast')!).to.be.greaterThan(24);
  });

  it('slow start: a host added to a running cluster ramps up over the window', () => {
    let now = 0;
    manager = createClusterManager({ now: () => now, random: seeded(3) });
    const slowStart = { roundRobinLbConfig: { slowStartConfig: { slowStartWindow: { seconds: 10 }, minWeightPercent: { value: 10 } } } };
    manager.update(loaded([staticCluster('warm', ['10.0.0.1:80', '10.0.0.2:80'], slowStart)]), files);
    manager.update(loaded([staticCluster('warm', ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80'], slowStart)], [], 'v2'), files);
    const c = manager.get('warm')!;
    const share = () => Array.from({ length: 1000 }, () => c.pick({})!.address).filter((a) => a === '10.0.0.3:80').length / 1000;
    expect(share()).to.be.closeTo(0.1 / 2.1, 0.01);
    now = 5000;
    expect(share()).to.be.closeTo(0.5 / 2.5, 0.01);
    now = 10_000;
    expect(share()).to.be.closeTo(1 / 3, 0.01);
  });

  it('locality weights split traffic between localities', () => {
    manager = createClusterManager({ random: seeded(4) });
    const cluster = { name: 'loc', type: 'EDS', edsClusterConfig: { serviceName: 'loc' }, commonLbConfig: { localityWeightedLbConfig: {} } };
    const group = (zone: string, weight: number, ips: string[]) => ({
      locality: { region: 'r', zone }, loadBalancingWeight: { value: weight },
      lbEndpoints: ips.map((ip) => ({ endpoint: { address: { socketAddress: { address: ip, portValue: 80 } } } })),
    });
    manager.update(loaded([cluster], [{ clusterName: 'loc', endpoints: [group('a', 80, ['10.0.0.1', '10.0.0.2']), group('b', 20, ['10.0.1.1'])] }]), files);
    const c = manager.get('loc')!;
    const zones = countBy(Array.from({ length: 2000 }, () => c.pick({})!.locality));
    expect(zones.get('r/a')! / 2000).to.be.closeTo(0.8, 0.03);
  });
});
