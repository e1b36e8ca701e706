// Cluster translation: which clusters a workload gets, which DestinationRule shapes them, and how every traffic
// policy field lands in Envoy's Cluster. Every output is also run through the strict Envoy encoder.
import { expect } from 'chai';
import type { DestinationRuleSpec } from '../../src/api/index.ts';
import { hashPolicyFor } from '../../src/translate/load-balancer.ts';
import { effectivePolicy } from '../../src/translate/traffic-policy.ts';
import { app, destinationRule, endpointSlice, service, serviceEntry, snapshotOf, type InputPart } from '../support/mesh-fixtures.ts';
import { type Any, cds, httpOptionsOf, plain, tlsOf } from './translate-cds-support.ts';

const MAX = 4294967295;
const REVIEWS = 'reviews.bookinfo.svc.cluster.local';
const out = (port: number, host = REVIEWS, subset = '') => `outbound|${port}|${subset}|${host}`;

const bookinfo = (...more: InputPart[]) => snapshotOf(
  app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1'], v2: ['10.0.0.2'] } }),
  app('productpage', 'bookinfo', { port: 9080, versions: { v1: ['10.0.1.1'] } }),
  ...more,
);
const withRule = (spec: DestinationRuleSpec, ns = 'bookinfo', name = 'reviews') => ({ config: { destinationRules: [destinationRule(name, ns, spec)] } });
/** productpage's view of the reviews cluster(s) under one rule. */
const reviewsUnder = (spec: Omit<DestinationRuleSpec, 'host'>) => cds(bookinfo(withRule({ host: 'reviews', ...spec })), 'bookinfo', 'productpage-v1');

describe('translate/clusters', () => {
  describe('which clusters', () => {
    it('gives every visible service port an EDS cluster, plus passthrough, blackhole and the inbound side', () => {
      const r = cds(bookinfo(), 'bookinfo', 'productpage-v1');
      expect(r.clusters.map((c) => c.name).sort()).to.deep.equal([
        'BlackHoleCluster', 'InboundPassthroughCluster', 'PassthroughCluster', 'inbound|9080||',
        out(9080, 'productpage.bookinfo.svc.cluster.local'), out(9080),
      ]);
      const c = r.cluster(out(9080));
      expect(c).to.include({ type: 'EDS', lbPolicy: 'LEAST_REQUEST' });
      expect(c.edsClusterConfig).to.deep.equal({
        serviceName: out(9080), edsConfig: { ads: {}, initialFetchTimeout: {}, resourceApiVersion: 'V3' },
      });
      expect(c.connectTimeout).to.deep.equal({ seconds: 10 });
      expect(c.circuitBreakers).to.deep.equal({ thresholds: [{
        maxConnections: { value: MAX }, maxPendingRequests: { value: MAX }, maxRequests: { value: MAX }, maxRetries: { value: MAX },
        trackRemaining: true,
      }] });
      expect(c.transportSocket).to.equal(undefined);
      expect(plain((c.metadata as Any).filterMetadata.istio)).to.deep.equal({
        services: [{ host: REVIEWS, name: 'reviews', namespace: 'bookinfo' }],
      });
      expect(r.inputs).to.deep.equal([]);
    });

    it('adds one cluster per DestinationRule subset, and records the rule as an input', () => {
      const r = reviewsUnder({ subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] });
      expect(r.has(out(9080, REVIEWS, 'v1'))).to.equal(true);
      expect(r.has(out(9080, REVIEWS, 'v2'))).to.equal(true);
      const v1 = r.cluster(out(9080, REVIEWS, 'v1'));
      expect((v1.edsClusterConfig as Any).serviceName).to.equal(out(9080, REVIEWS, 'v1'));
      expect(plain((v1.metadata as Any).filterMetadata.istio)).to.include({
        subset: 'v1', config: '/apis/networking.istio.io/v1/namespaces/bookinfo/destination-rule/reviews',
      });
      expect(r.inputs).to.deep.equal(['DestinationRule/bookinfo/reviews']);
    });

    it('skips UDP ports and builds headless services as original-destination clusters', () => {
      const snap = snapshotOf(
        app('productpage', 'bookinfo', { port: 9080 }),
        { services: [service('dns', 'bookinfo', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'tcp-dns', port: 53 }] })] },
        { services: [service('db', 'bookinfo', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ name: 'tcp', port: 5432 }] })] },
      );
      const r = cds(snap, 'bookinfo', 'productpage-v1');
      expect(r.clusters.filter((c) => String(c.name).includes('dns.bookinfo')).map((c) => c.name)).to.deep.equal([out(53, 'dns.bookinfo.svc.cluster.local')]);
      const db = r.cluster(out(5432, 'db.bookinfo.svc.cluster.local'));
      expect(db).to.include({ type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED' });
      expect(db.edsClusterConfig).to.equal(undefined);
    });

    it('is deterministic whatever the order of the inputs', () => {
      const a = { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }] };
      const se = serviceEntry('ext', 'bookinfo', { hosts: ['api.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS' });
      const se2 = serviceEntry('ext2', 'bookinfo', { hosts: ['b.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC', endpoints: [{ address: '1.1.1.2' }, { address: '1.1.1.1' }] });
      const one = cds(bookinfo({ config: { destinationRules: [destinationRule('reviews', 'bookinfo', a)], serviceEntries: [se, se2] } }), 'bookinfo', 'productpage-v1');
      const two = cds(snapshotOf(
        { config: { serviceEntries: [se2, se], destinationRules: [destinationRule('reviews', 'bookinfo', a)] } },
        app('productpage', 'bookinfo', { port: 9080, versions: { v1: ['10.0.1.1'] } }),
        app('reviews', 'bookinfo', { port: 9080, versions: { v2: ['10.0.0.2'], v1: ['10.0.0.1'] } }),
      ), 'bookinfo', 'productpage-v1');
      const sorted = (x: Any[]) => JSON.stringify([...x].sort((p, q) => (p.name < q.name ? -1 : 1)));
      expect(sorted(two.clusters)).to.equal(sorted(one.clusters));
      expect(JSON.stringify(two.endpoints)).to.equal(JSON.stringify(one.endpoints));
      expect(two.inputs).to.deep.equal(one.inputs);
    });
  });

  describe('DestinationRule selection', () => {
    // A client in `front` calls reviews in `bookinfo`; rules may live in front, bookinfo and the root namespace.
    const rule = (ns: string, subset: string, extra: Partial<DestinationRuleSpec> = {}) =>
      destinationRule(`reviews-${subset}`, ns, { host: REVIEWS, subsets: [{ name: subset, labels: { version: 'v1' } }], ...extra });
    const subsetsSeen = (...rules: ReturnType<typeof rule>[]) => {
      const r = cds(snapshotOf(
        app('reviews', 'bookinfo', { port: 9080 }), app('web', 'front', { port: 80 }), app('other', 'front', { port: 80 }),
        { config: { destinationRules: rules } },
      ), 'front', 'web-v1');
      return { subsets: r.clusters.map((c) => String(c.name)).filter((n) => n.startsWith('outbound|9080|') && !n.startsWith('outbound|9080||')), inputs: r.inputs };
    };

    it("prefers the client's namespace, then the service's, then the root namespace", () => {
      const client = rule('front', 'client');
      const svc = rule('bookinfo', 'svc');
      const root = rule('weft-system', 'root');
      expect(subsetsSeen(client, svc, root)).to.deep.equal({ subsets: [out(9080, REVIEWS, 'client')], inputs: ['DestinationRule/front/reviews-client'] });
      expect(subsetsSeen(svc, root).subsets).to.deep.equal([out(9080, REVIEWS, 'svc')]);
      expect(subsetsSeen(root).subsets).to.deep.equal([out(9080, REVIEWS, 'root')]);
    });

    it('respects exportTo', () => {
      const hidden = rule('bookinfo', 'svc', { exportTo: ['.'] });
      expect(subsetsSeen(hidden, rule('weft-system', 'root')).subsets).to.deep.equal([out(9080, REVIEWS, 'root')]);
      expect(subsetsSeen(rule('bookinfo', 'svc', { exportTo: ['front'] })).subsets).to.deep.equal([out(9080, REVIEWS, 'svc')]);
    });

    it('applies a rule with a workloadSelector to the workloads it selects only, ahead of the others', () => {
      const selecting = rule('front', 'mine', { workloadSelector: { matchLabels: { app: 'web' } } });
      const general = rule('front', 'all');
      expect(subsetsSeen(general, selecting).subsets).to.deep.equal([out(9080, REVIEWS, 'mine')]);
      const r = cds(snapshotOf(app('reviews', 'bookinfo', { port: 9080 }), app('other', 'front', { port: 80 }),
        { config: { destinationRules: [general, selecting] } }), 'front', 'other-v1');
      expect(r.has(out(9080, REVIEWS, 'all'))).to.equal(true);
      expect(r.has(out(9080, REVIEWS, 'mine'))).to.equal(false);
    });
  });

  describe('policy precedence', () => {
    // Two ports; the rule sets everything at the top, overrides port 9090, and each subset overrides in turn.
    const snap = snapshotOf(
      app('reviews', 'bookinfo', { ports: [{ name: 'http', port: 9080 }, { name: 'http-admin', port: 9090 }], versions: { v1: ['10.0.0.1'], v2: ['10.0.0.2'] } }),
      app('productpage', 'bookinfo', { port: 9080 }),
      withRule({
        host: 'reviews',
        trafficPolicy: {
          connectionPool: { tcp: { maxConnections: 100 } },
          outlierDetection: { consecutive5xxErrors: 7 },
          loadBalancer: { simple: 'RANDOM' },
          portLevelSettings: [{ port: { number: 9090 }, loadBalancer: { simple: 'ROUND_ROBIN' } }],
        },
        subsets: [
          { name: 'v1', labels: { version: 'v1' }, trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } },
          {
            name: 'v2', labels: { version: 'v2' },
            trafficPolicy: {
              connectionPool: { tcp: { maxConnections: 5 } },
              portLevelSettings: [{ port: { number: 9080 }, outlierDetection: { consecutive5xxErrors: 2 } }],
            },
          },
        ],
      }),
    );
    const r = cds(snap, 'bookinfo', 'productpage-v1');
    const summary = (name: string) => {
      const c = r.cluster(name) as Any;
      return { lb: c.lbPolicy, maxConnections: c.circuitBreakers.thresholds[0].maxConnections.value, consecutive5xx: c.outlierDetection?.consecutive5xx?.value };
    };

    it('uses the rule level unless a port-level setting exists, which replaces it whole', () => {
      expect(summary(out(9080))).to.deep.equal({ lb: 'RANDOM', maxConnections: 100, consecutive5xx: 7 });
      // ROUND_ROBIN is Envoy's default lb_policy, so it is left unset.
      expect(summary(out(9090))).to.deep.equal({ lb: undefined, maxConnections: MAX, consecutive5xx: undefined });
    });

    it('lets a subset override the parts it sets', () => {
      expect(summary(out(9080, REVIEWS, 'v1'))).to.deep.equal({ lb: 'LEAST_REQUEST', maxConnections: 100, consecutive5xx: 7 });
      expect(summary(out(9090, REVIEWS, 'v1'))).to.deep.equal({ lb: 'LEAST_REQUEST', maxConnections: MAX, consecutive5xx: undefined });
      expect(summary(out(9090, REVIEWS, 'v2'))).to.deep.equal({ lb: undefined, maxConnections: 5, consecutive5xx: undefined });
    });

    it("lets a subset's port-level settings replace everything for that port", () => {
      expect(summary(out(9080, REVIEWS, 'v2'))).to.deep.equal({ lb: 'LEAST_REQUEST', maxConnections: MAX, consecutive5xx: 2 });
    });

    it('keeps tunnel, PROXY protocol and retry budget from the rule level, subsets overriding them', () => {
      const rule = destinationRule('r', 'ns', {
        host: 'a',
        trafficPolicy: { retryBudget: { percent: 10 }, proxyProtocol: { version: 'V1' }, portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'DISABLE' } }] },
        subsets: [{ name: 's', trafficPolicy: { proxyProtocol: { version: 'V2' } } }],
      });
      expect(effectivePolicy(rule, 80)).to.deep.equal({ tls: { mode: 'DISABLE' }, retryBudget: { percent: 10 }, proxyProtocol: { version: 'V1' } });
      expect(effectivePolicy(rule, 80, rule.spec!.subsets![0])).to.deep.equal({ tls: { mode: 'DISABLE' }, retryBudget: { percent: 10 }, proxyProtocol: { version: 'V2' } });
      expect(effectivePolicy(undefined, 80)).to.equal(undefined);
    });
  });

  describe('connectionPool', () => {
    it('maps every field', () => {
      const snap = snapshotOf(
        app('reviews', 'bookinfo', { ports: [{ name: 'grpc', port: 9080 }] }), app('productpage', 'bookinfo', { port: 9080 }),
        withRule({
          host: 'reviews',
          trafficPolicy: {
            connectionPool: {
              tcp: { maxConnections: 11, connectTimeout: '250ms', tcpKeepalive: { probes: 3, time: '7200s', interval: '75s' }, maxConnectionDuration: '1h', idleTimeout: '10m' },
              http: { http1MaxPendingRequests: 12, http2MaxRequests: 13, maxRequestsPerConnection: 14, maxRetries: 15, idleTimeout: '30s', maxConcurrentStreams: 100 },
            },
          },
        }),
      );
      const c = cds(snap, 'bookinfo', 'productpage-v1').cluster(out(9080)) as Any;
      expect(c.connectTimeout).to.deep.equal({ nanos: 250000000 });
      expect(c.circuitBreakers.thresholds).to.deep.equal([{
        maxConnections: { value: 11 }, maxPendingRequests: { value: 12 }, maxRequests: { value: 13 }, maxRetries: { value: 15 }, trackRemaining: true,
      }]);
      expect(c.upstreamConnectionOptions).to.deep.equal({ tcpKeepalive: { keepaliveProbes: { value: 3 }, keepaliveTime: { value: 7200 }, keepaliveInterval: { value: 75 } } });
      expect(httpOptionsOf(c)).to.deep.equal({
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        commonHttpProtocolOptions: { idleTimeout: { seconds: 30 }, maxConnectionDuration: { seconds: 3600 }, maxRequestsPerConnection: { value: 14 } },
        explicitHttpConfig: { http2ProtocolOptions: { maxConcurrentStreams: { value: 100 } } },
      });
    });

    it('takes the TCP idle timeout when HTTP sets none, and turns keepalive on with OS timings when empty', () => {
      const c = reviewsUnder({ trafficPolicy: { connectionPool: { tcp: { idleTimeout: '10m', tcpKeepalive: {} } } } }).cluster(out(9080)) as Any;
      expect(httpOptionsOf(c).commonHttpProtocolOptions).to.deep.equal({ idleTimeout: { seconds: 600 } });
      expect(httpOptionsOf(c).explicitHttpConfig).to.deep.equal({ httpProtocolOptions: {} });
      expect(c.upstreamConnectionOptions).to.deep.equal({ tcpKeepalive: {} });
    });

    it('picks the upstream HTTP protocol from the port, h2UpgradePolicy and useClientProtocol', () => {
      const snap = (spec?: Omit<DestinationRuleSpec, 'host'>) => cds(snapshotOf(
        app('svc', 'bookinfo', { ports: [{ name: 'http', port: 80 }, { name: 'grpc-api', port: 81 }, { name: 'data', port: 82 }, { name: 'tcp', port: 83 }] }),
        app('productpage', 'bookinfo', { port: 9080 }),
        ...(spec ? [withRule({ host: 'svc', ...spec })] : []),
      ), 'bookinfo', 'productpage-v1');
      const host = 'svc.bookinfo.svc.cluster.local';
      const protocol = (r: ReturnType<typeof snap>, port: number) => {
        const h = httpOptionsOf(r.cluster(out(port, host)));
        if (!h) return 'none';
        return h.useDownstreamProtocolConfig ? 'downstream' : h.explicitHttpConfig.http2ProtocolOptions ? 'http2' : 'http1';
      };
      const plainRule = snap();
      expect([80, 81, 82, 83].map((p) => protocol(plainRule, p))).to.deep.equal(['none', 'http2', 'downstream', 'none']);
      const upgrade = snap({ trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: 'UPGRADE' } } } });
      expect(protocol(upgrade, 80)).to.equal('http2');
      // Only a port declared HTTP is upgraded: a sniffed port keeps following the client (as in Istio).
      expect(protocol(upgrade, 82)).to.equal('downstream');
      const client = snap({ trafficPolicy: { connectionPool: { http: { useClientProtocol: true } } } });
      expect(protocol(client, 80)).to.equal('downstream');
    });

    it('maps the retry budget into the thresholds, with its documented defaults', () => {
      const c = reviewsUnder({ trafficPolicy: { retryBudget: {} } }).cluster(out(9080)) as Any;
      expect(c.circuitBreakers.thresholds[0].retryBudget).to.deep.equal({ budgetPercent: { value: 20 }, minRetryConcurrency: { value: 3 } });
      const d = reviewsUnder({ trafficPolicy: { retryBudget: { percent: 5.5, minRetryConcurrency: 9 } } }).cluster(out(9080)) as Any;
      expect(d.circuitBreakers.thresholds[0].retryBudget).to.deep.equal({ budgetPercent: { value: 5.5 }, minRetryConcurrency: { value: 9 } });
    });
  });

  describe('outlierDetection', () => {
    it('maps every field, success-rate ejection off, panic threshold from minHealthPercent', () => {
      const c = reviewsUnder({ trafficPolicy: { outlierDetection: {
        consecutive5xxErrors: 4, consecutiveGatewayErrors: 0, interval: '1s', baseEjectionTime: '2m', maxEjectionPercent: 50,
        minHealthPercent: 30, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 6,
      } } }).cluster(out(9080)) as Any;
      expect(c.outlierDetection).to.deep.equal({
        enforcingSuccessRate: { value: 0 },
        consecutive5xx: { value: 4 }, enforcingConsecutive5xx: { value: 100 },
        consecutiveGatewayFailure: { value: 0 }, enforcingConsecutiveGatewayFailure: { value: 0 },
        interval: { seconds: 1 }, baseEjectionTime: { seconds: 120 }, maxEjectionPercent: { value: 50 },
        splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailure: { value: 6 }, enforcingConsecutiveLocalOriginFailure: { value: 100 },
        enforcingLocalOriginSuccessRate: { value: 0 },
      });
      expect(c.commonLbConfig.healthyPanicThreshold).to.deep.equal({ value: 30 });
    });

    it("leaves Envoy's 5xx detector as is when unset, and never panics by default", () => {
      const c = reviewsUnder({ trafficPolicy: { outlierDetection: { interval: '5s' } } }).cluster(out(9080)) as Any;
      expect(c.outlierDetection).to.deep.equal({ enforcingSuccessRate: { value: 0 }, interval: { seconds: 5 } });
      expect(c.commonLbConfig.healthyPanicThreshold).to.deep.equal({}); // a present Percent of 0: never panic
      expect(reviewsUnder({}).cluster(out(9080)).commonLbConfig).to.deep.equal({ healthyPanicThreshold: {} });
    });

    it('reads the deprecated consecutiveErrors as gateway errors', () => {
      const c = reviewsUnder({ trafficPolicy: { outlierDetection: { consecutiveErrors: 5 } } }).cluster(out(9080)) as Any;
      expect(c.outlierDetection).to.deep.include({
        consecutiveGatewayFailure: { value: 5 }, enforcingConsecutiveGatewayFailure: { value: 100 }, enforcingConsecutive5xx: { value: 0 },
      });
    });
  });

  describe('loadBalancer', () => {
    const lbOf = (loadBalancer: Any) => reviewsUnder({ trafficPolicy: { loadBalancer } }).cluster(out(9080)) as Any;

    it('maps the simple policies; least request is the default and LEAST_CONN its old name', () => {
      expect(lbOf({}).lbPolicy).to.equal('LEAST_REQUEST');
      expect(lbOf({ simple: 'UNSPECIFIED' }).lbPolicy).to.equal('LEAST_REQUEST');
      expect(lbOf({ simple: 'LEAST_CONN' }).lbPolicy).to.equal('LEAST_REQUEST');
      expect(lbOf({ simple: 'ROUND_ROBIN' })).to.not.have.property('lbPolicy'); // Envoy's default
      expect(lbOf({ simple: 'RANDOM' }).lbPolicy).to.equal('RANDOM');
    });

    it('turns PASSTHROUGH into an original-destination cluster without endpoints', () => {
      const r = reviewsUnder({ trafficPolicy: { loadBalancer: { simple: 'PASSTHROUGH' } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }] });
      for (const name of [out(9080), out(9080, REVIEWS, 'v1')]) {
        const c = r.cluster(name);
        expect(c).to.include({ type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED' });
        expect(c.edsClusterConfig).to.equal(undefined);
      }
      expect(r.endpoints.map((e) => e.clusterName)).to.not.include(out(9080));
    });

    it('maps consistent hashing to Maglev or a ring hash (1024 entries unless told)', () => {
      expect(lbOf({ consistentHash: { httpHeaderName: 'x', maglev: { tableSize: 1009 } } })).to.deep.include({ lbPolicy: 'MAGLEV', maglevLbConfig: { tableSize: { value: 1009 } } });
      const maglev = lbOf({ consistentHash: { useSourceIp: true, maglev: {} } });
      expect(maglev.lbPolicy).to.equal('MAGLEV');
      expect(maglev.maglevLbConfig).to.equal(undefined);
      expect(lbOf({ consistentHash: { httpHeaderName: 'x', ringHash: { minimumRingSize: 2048 } } })).to.deep.include({ lbPolicy: 'RING_HASH', ringHashLbConfig: { minimumRingSize: { value: 2048 } } });
      expect(lbOf({ consistentHash: { httpHeaderName: 'x' } })).to.deep.include({ lbPolicy: 'RING_HASH', ringHashLbConfig: { minimumRingSize: { value: 1024 } } });
      expect(lbOf({ consistentHash: { httpHeaderName: 'x', minimumRingSize: 512 } }).ringHashLbConfig).to.deep.equal({ minimumRingSize: { value: 512 } });
    });

    it('maps warmup to slow start for round robin and least request', () => {
      expect(lbOf({ simple: 'ROUND_ROBIN', warmup: { duration: '30s', minimumPercent: 20, aggression: 2 } }).roundRobinLbConfig).to.deep.equal({
        slowStartConfig: { slowStartWindow: { seconds: 30 }, aggression: { defaultValue: 2, runtimeKey: 'upstream.slow_start.aggression' }, minWeightPercent: { value: 20 } },
      });
      expect(lbOf({ warmupDurationSecs: '60s' }).leastRequestLbConfig).to.deep.equal({ slowStartConfig: { slowStartWindow: { seconds: 60 } } });
      expect(lbOf({ simple: 'RANDOM', warmup: { duration: '30s' } })).to.not.have.any.keys('roundRobinLbConfig', 'leastRequestLbConfig');
    });

    it('turns on locality-weighted LB for distribute, and for failover only with outlier detection', () => {
      const weighted = (tp: Any) => reviewsUnder({ trafficPolicy: tp }).cluster(out(9080)).commonLbConfig as Any;
      expect(weighted({ loadBalancer: { localityLbSetting: { distribute: [{ from: 'a/*', to: { 'a/*': 100 } }] } } }).localityWeightedLbConfig).to.deep.equal({});
      expect(weighted({ loadBalancer: { localityLbSetting: { failover: [{ from: 'a', to: 'b' }] } } }).localityWeightedLbConfig).to.equal(undefined);
      expect(weighted({ loadBalancer: { localityLbSetting: { failover: [{ from: 'a', to: 'b' }] } }, outlierDetection: {} }).localityWeightedLbConfig).to.deep.equal({});
      expect(weighted({ loadBalancer: { localityLbSetting: { failoverPriority: ['x'] } }, outlierDetection: {} }).localityWeightedLbConfig).to.deep.equal({});
      expect(weighted({ outlierDetection: {} }).localityWeightedLbConfig).to.equal(undefined);
    });

    it('gives routes the hash policy of a consistent-hash load balancer', () => {
      expect(hashPolicyFor(undefined)).to.equal(undefined);
      expect(hashPolicyFor({ simple: 'RANDOM' })).to.equal(undefined);
      expect(hashPolicyFor({ consistentHash: { httpHeaderName: 'x-user' } })).to.deep.equal([{ header: { headerName: 'x-user' } }]);
      expect(hashPolicyFor({ consistentHash: { httpCookie: { name: 'sid', path: '/', ttl: '1h', attributes: [{ name: 'SameSite', value: 'Strict' }, { name: 'Secure' }] } } }))
        .to.deep.equal([{ cookie: { name: 'sid', path: '/', ttl: { seconds: 3600 }, attributes: [{ name: 'SameSite', value: 'Strict' }, { name: 'Secure' }] } }]);
      expect(hashPolicyFor({ consistentHash: { httpCookie: { name: 'sid' } } })).to.deep.equal([{ cookie: { name: 'sid' } }]);
      expect(hashPolicyFor({ consistentHash: { useSourceIp: true } })).to.deep.equal([{ connectionProperties: { sourceIp: true } }]);
      expect(hashPolicyFor({ consistentHash: { httpQueryParameterName: 'u' } })).to.deep.equal([{ queryParameter: { name: 'u' } }]);
    });
  });

  describe('tls', () => {
    const tlsUnder = (tls: Any) => reviewsUnder({ trafficPolicy: { tls } }).cluster(out(9080)) as Any;
    const PARAMS = { tlsMinimumProtocolVersion: 'TLSv1_2', tlsMaximumProtocolVersion: 'TLSv1_3' };

    it('sends plaintext for DISABLE (and an unset mode), and without a rule until auto mTLS is wired', () => {
      expect(tlsUnder({ mode: 'DISABLE' }).transportSocket).to.equal(undefined);
      expect(tlsUnder({}).transportSocket).to.equal(undefined);
      expect(reviewsUnder({}).cluster(out(9080)).transportSocket).to.equal(undefined);
    });

    it('originates TLS for SIMPLE with the given SNI, CA file, CRL and names', () => {
      const c = tlsUnder({ mode: 'SIMPLE', sni: 'reviews.example.com', caCertificates: '/etc/certs/ca.pem', caCrl: '/etc/certs/crl.pem', subjectAltNames: ['reviews.example.com'] });
      expect(c.transportSocket.name).to.equal('envoy.transport_sockets.tls');
      expect(tlsOf(c)).to.deep.equal({
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        commonTlsContext: {
          tlsParams: PARAMS,
          validationContext: { trustedCa: { filename: '/etc/certs/ca.pem' }, matchSubjectAltNames: [{ exact: 'reviews.example.com' }], crl: { filename: '/etc/certs/crl.pem' } },
        },
        sni: 'reviews.example.com',
      });
      expect(httpOptionsOf(c)).to.equal(undefined);
    });

    it('without an SNI sends the request host and checks it, trusting the system roots when no CA is given', () => {
      const c = tlsUnder({ mode: 'SIMPLE' });
      expect(tlsOf(c).commonTlsContext.validationContext).to.deep.equal({ systemRootCerts: {} });
      expect(tlsOf(c).sni).to.equal(undefined);
      expect(httpOptionsOf(c).upstreamHttpProtocolOptions).to.deep.equal({ autoSni: true, autoSanValidation: true });
      const insecure = tlsUnder({ mode: 'SIMPLE', insecureSkipVerify: true });
      expect(tlsOf(insecure).commonTlsContext).to.not.have.any.keys('validationContext', 'combinedValidationContext');
      expect(httpOptionsOf(insecure).upstreamHttpProtocolOptions).to.deep.equal({ autoSni: true });
    });

    it('presents the client certificate files for MUTUAL', () => {
      const c = tlsUnder({ mode: 'MUTUAL', sni: 'x', clientCertificate: '/c/cert.pem', privateKey: '/c/key.pem', caCertificates: '/c/ca.pem' });
      expect(tlsOf(c).commonTlsContext.tlsCertificates).to.deep.equal([{ certificateChain: { filename: '/c/cert.pem' }, privateKey: { filename: '/c/key.pem' } }]);
      expect(tlsOf(c).commonTlsContext.validationContext).to.deep.equal({ trustedCa: { filename: '/c/ca.pem' } });
    });

    it('takes key, certificate and CA from a named credential', () => {
      const c = tlsUnder({ mode: 'MUTUAL', sni: 'x', credentialName: 'client-cred', subjectAltNames: ['a'] });
      expect(tlsOf(c).commonTlsContext).to.deep.equal({
        tlsParams: PARAMS,
        tlsCertificateSdsSecretConfigs: [{ name: 'client-cred' }],
        combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: [{ exact: 'a' }] }, validationContextSdsSecretConfig: { name: 'client-cred-cacert' } },
      });
      const simple = tlsUnder({ mode: 'SIMPLE', sni: 'x', credentialName: 'cred' });
      expect(tlsOf(simple).commonTlsContext).to.deep.equal({
        tlsParams: PARAMS,
        combinedValidationContext: { defaultValidationContext: {}, validationContextSdsSecretConfig: { name: 'cred-cacert' } },
      });
    });

    it("uses the workload's identity files for ISTIO_MUTUAL, with the mesh SNI and the destination's identities", () => {
      const r = reviewsUnder({ trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }] });
      expect(tlsOf(r.cluster(out(9080)))).to.deep.equal({
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        commonTlsContext: {
          tlsParams: PARAMS,
          tlsCertificates: [{ certificateChain: { filename: '/etc/weft/identity/cert-chain.pem' }, privateKey: { filename: '/etc/weft/identity/key.pem' } }],
          validationContext: { trustedCa: { filename: '/etc/weft/identity/root-cert.pem' }, matchSubjectAltNames: [{ exact: 'spiffe://cluster.local/ns/bookinfo/sa/reviews' }] },
          alpnProtocols: ['istio'],
        },
        sni: `outbound_.9080_._.${REVIEWS}`,
      });
      expect(tlsOf(r.cluster(out(9080, REVIEWS, 'v1'))).sni).to.equal(`outbound_.9080_.v1_.${REVIEWS}`);
      const own = tlsUnder({ mode: 'ISTIO_MUTUAL', sni: 'custom', subjectAltNames: ['spiffe://other/ns/a/sa/b'] });
      expect(tlsOf(own).sni).to.equal('custom');
      expect(tlsOf(own).commonTlsContext.validationContext.matchSubjectAltNames).to.deep.equal([{ exact: 'spiffe://other/ns/a/sa/b' }]);
    });

    it('advertises h2 over ALPN on HTTP/2 clusters', () => {
      const snap = (mode: string) => cds(snapshotOf(
        app('reviews', 'bookinfo', { ports: [{ name: 'grpc', port: 9080 }] }), app('productpage', 'bookinfo', { port: 9080 }),
        withRule({ host: 'reviews', trafficPolicy: { tls: { mode: mode as 'SIMPLE', sni: 'x' } } }),
      ), 'bookinfo', 'productpage-v1').cluster(out(9080));
      expect(tlsOf(snap('ISTIO_MUTUAL')).commonTlsContext.alpnProtocols).to.deep.equal(['istio', 'h2']);
      expect(tlsOf(snap('SIMPLE')).commonTlsContext.alpnProtocols).to.deep.equal(['h2']);
    });

    it("checks a ServiceEntry's subjectAltNames when the rule names none", () => {
      const r = cds(snapshotOf(app('productpage', 'bookinfo', { port: 9080 }), { config: {
        serviceEntries: [serviceEntry('ext', 'bookinfo', { hosts: ['api.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS', subjectAltNames: ['api.example.com'] })],
        destinationRules: [destinationRule('ext', 'bookinfo', { host: 'api.example.com', trafficPolicy: { tls: { mode: 'SIMPLE', sni: 'api.example.com' } } })],
      } }), 'bookinfo', 'productpage-v1');
      expect(tlsOf(r.cluster(out(443, 'api.example.com'))).commonTlsContext.validationContext.matchSubjectAltNames).to.deep.equal([{ exact: 'api.example.com' }]);
    });

    it('wraps the transport socket in a PROXY protocol header when asked', () => {
      const c = reviewsUnder({ trafficPolicy: { proxyProtocol: { version: 'V2' }, tls: { mode: 'ISTIO_MUTUAL' } } }).cluster(out(9080)) as Any;
      expect(c.transportSocket.name).to.equal('envoy.transport_sockets.upstream_proxy_protocol');
      expect(c.transportSocket.typedConfig.config).to.deep.equal({ version: 'V2' });
      expect(c.transportSocket.typedConfig.transportSocket.name).to.equal('envoy.transport_sockets.tls');
      const raw = reviewsUnder({ trafficPolicy: { proxyProtocol: {} } }).cluster(out(9080)) as Any;
      expect(raw.transportSocket.typedConfig.transportSocket.name).to.equal('envoy.transport_sockets.raw_buffer');
    });
  });

  describe('ServiceEntry resolutions', () => {
    const se = (resolution: string, extra: Any = {}) => cds(snapshotOf(app('productpage', 'bookinfo', { port: 9080 }), { config: {
      serviceEntries: [serviceEntry('ext', 'bookinfo', { hosts: ['api.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: resolution as 'DNS', ...extra })],
      destinationRules: extra.subsets ? [destinationRule('ext', 'bookinfo', { host: 'api.example.com', subsets: extra.subsets })] : [],
    } }), 'bookinfo', 'productpage-v1');
    const EXT = out(443, 'api.example.com');

    it('STATIC: an EDS cluster, and the entry is recorded as an input', () => {
      const r = se('STATIC', { endpoints: [{ address: '192.0.2.1' }] });
      expect(r.cluster(EXT).type).to.equal('EDS');
      expect(r.inputs).to.deep.equal(['ServiceEntry/bookinfo/ext']);
    });

    it('DNS: strict DNS over every endpoint (the host itself when none), inline', () => {
      const own = se('DNS').cluster(EXT) as Any;
      expect(own).to.include({ type: 'STRICT_DNS', dnsLookupFamily: 'V4_ONLY', respectDnsTtl: true });
      expect(own.dnsRefreshRate).to.deep.equal({ seconds: 60 });
      expect(own.loadAssignment.endpoints[0].lbEndpoints.map((e: Any) => e.endpoint.address.socketAddress)).to.deep.equal([{ address: 'api.example.com', portValue: 443 }]);
      const many = se('DNS', { endpoints: [{ address: 'b.example.com' }, { address: 'a.example.com', ports: { tls: 8443 } }] }).cluster(EXT) as Any;
      expect(many.loadAssignment.endpoints[0].lbEndpoints.map((e: Any) => e.endpoint.address.socketAddress)).to.deep.equal([
        { address: 'a.example.com', portValue: 8443 }, { address: 'b.example.com', portValue: 443 },
      ]);
      expect(many.edsClusterConfig).to.equal(undefined);
    });

    it('DNS_ROUND_ROBIN: logical DNS through a single endpoint', () => {
      const c = se('DNS_ROUND_ROBIN', { endpoints: [{ address: 'b.example.com' }, { address: 'a.example.com' }] }).cluster(EXT) as Any;
      expect(c.type).to.equal('LOGICAL_DNS');
      expect(c.loadAssignment.endpoints).to.have.length(1);
      expect(c.loadAssignment.endpoints[0].lbEndpoints.map((e: Any) => e.endpoint.address.socketAddress.address)).to.deep.equal(['a.example.com']);
    });

    it('NONE: the original destination', () => {
      expect(se('NONE').cluster(EXT)).to.include({ type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED' });
    });

    it('leaves out a DNS subset cluster with nothing to resolve', () => {
      const r = se('DNS', {
        endpoints: [{ address: 'a.example.com', labels: { v: '1' } }],
        subsets: [{ name: 'one', labels: { v: '1' } }, { name: 'two', labels: { v: '2' } }],
      });
      expect(r.has(out(443, 'api.example.com', 'one'))).to.equal(true);
      expect(r.has(out(443, 'api.example.com', 'two'))).to.equal(false);
    });

    it('marks mesh-external services in the cluster metadata', () => {
      expect(plain((se('DNS', { location: 'MESH_EXTERNAL' }).cluster(EXT).metadata as Any).filterMetadata.istio).external).to.equal(true);
    });
  });

  describe('inbound side', () => {
    it('sends each served port to the app on localhost, with the port protocol and the rule connection pool', () => {
      const snap = snapshotOf(
        app('api', 'shop', { ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'grpc', port: 90, targetPort: 9090 }] }),
        withRule({ host: 'api', trafficPolicy: { connectionPool: { tcp: { maxConnections: 50 } } } }, 'shop', 'api'),
      );
      const r = cds(snap, 'shop', 'api-v1');
      const http = r.cluster('inbound|8080||') as Any;
      expect(http.type).to.equal('STATIC');
      expect(http.loadAssignment).to.deep.equal({
        clusterName: 'inbound|8080||',
        endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 8080 } } } }] }],
      });
      expect(http.circuitBreakers.thresholds[0].maxConnections).to.deep.equal({ value: 50 });
      expect(httpOptionsOf(http)).to.equal(undefined);
      expect(httpOptionsOf(r.cluster('inbound|9090||')).explicitHttpConfig).to.deep.equal({ http2ProtocolOptions: {} });
      expect(plain((http.metadata as Any).filterMetadata.istio).services).to.deep.equal([{ host: 'api.shop.svc.cluster.local', name: 'api', namespace: 'shop' }]);
    });

    it('resolves a named target port through the pods\' container ports', () => {
      const snap = snapshotOf(
        app('api', 'shop', { ports: [{ name: 'http', port: 80, targetPort: 8080 }] }),
        { services: [service('api-alias', 'shop', { selector: { app: 'api' }, ports: [{ name: 'http-alias', port: 81, targetPort: 'http' }] })] },
        { endpointSlices: [endpointSlice('api-alias', 'shop', [], { 'http-alias': 8080 })] },
      );
      const r = cds(snap, 'shop', 'api-v1');
      expect(r.clusters.filter((c) => String(c.name).startsWith('inbound|')).map((c) => c.name)).to.deep.equal(['inbound|8080||']);
      expect(plain((r.cluster('inbound|8080||').metadata as Any).filterMetadata.istio).services.map((s: Any) => s.name)).to.have.members(['api', 'api-alias']);
    });

    it('passes unmatched inbound traffic to the original destination from a source address the capture ignores', () => {
      const r = cds(bookinfo(), 'bookinfo', 'productpage-v1');
      expect(r.cluster('InboundPassthroughCluster')).to.deep.include({
        type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', upstreamBindConfig: { sourceAddress: { address: '127.0.0.6', portValue: 0 } },
      });
      expect(httpOptionsOf(r.cluster('PassthroughCluster'))).to.deep.include({
        commonHttpProtocolOptions: { idleTimeout: { seconds: 300 } }, useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} },
      });
      expect(r.cluster('BlackHoleCluster')).to.deep.equal({ name: 'BlackHoleCluster', type: 'STATIC', connectTimeout: { seconds: 10 } });
    });
  });
});
