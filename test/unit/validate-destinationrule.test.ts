// DestinationRule validation: the rules that are easy to get subtly wrong (crds/testdata is checked for every
// kind in validate-testdata.test.ts).
import { expect } from 'chai';
import type { DestinationRule, DestinationRuleSpec } from '../../src/api/destinationrule.ts';
import { validateDestinationRule } from '../../src/validate/destinationrule.ts';
import { formatFinding } from '../../src/validate/result.ts';
import { isPrime } from '../../src/validate/trafficpolicy.ts';

const errorsOf = (obj: DestinationRule): string[] => validateDestinationRule(obj).errors.map(formatFinding);
const warningsOf = (obj: DestinationRule): string[] => validateDestinationRule(obj).warnings.map(formatFinding);
const dr = (spec: Partial<DestinationRuleSpec>, namespace = 'default'): DestinationRule => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'x', namespace },
  spec: { host: 'reviews.prod.svc.cluster.local', ...spec },
});

describe('validate/destinationrule', () => {
  it('requires a host in wildcard-domain form, not an IP address', () => {
    expect(errorsOf(dr({ host: '*.example.com' }))).to.deep.equal([]);
    expect(errorsOf(dr({ host: 'reviews' }))).to.deep.equal([]);
    expect(errorsOf(dr({ host: '' }))[0]).to.match(/^spec\.host: Required value/);
    expect(errorsOf(dr({ host: '192.168.0.1' }))[0]).to.match(/^spec\.host: .*all-numeric/);
  });

  it('checks every traffic policy: rule level, subset level and port level', () => {
    const badPool = { connectionPool: { tcp: { connectTimeout: '0s' } } };
    const errors = errorsOf(dr({
      trafficPolicy: { ...badPool, portLevelSettings: [{ port: { number: 80 }, ...badPool }] },
      subsets: [{ name: 'v1', trafficPolicy: { ...badPool, portLevelSettings: [{ port: { number: 80 }, ...badPool }] } }],
    }));
    expect(errors.map((e) => e.split(':')[0])).to.deep.equal([
      'spec.trafficPolicy.connectionPool.tcp.connectTimeout',
      'spec.trafficPolicy.portLevelSettings[0].connectionPool.tcp.connectTimeout',
      'spec.subsets[0].trafficPolicy.connectionPool.tcp.connectTimeout',
      'spec.subsets[0].trafficPolicy.portLevelSettings[0].connectionPool.tcp.connectTimeout',
    ]);
  });

  it('takes durations of at least 1ms, in whole milliseconds, except where 0s disables', () => {
    const pool = (tcp: object) => errorsOf(dr({ trafficPolicy: { connectionPool: { tcp } } }));
    expect(pool({ connectTimeout: '1ms', maxConnectionDuration: '1h30m' })).to.deep.equal([]);
    expect(pool({ connectTimeout: '1500us' }).join()).to.include('whole number of milliseconds');
    expect(pool({ idleTimeout: '0s' })).to.deep.equal([]);
    expect(pool({ idleTimeout: '-1s' })).to.have.length(1);
    const cookie = (ttl: string) => errorsOf(dr({ trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: 'c', ttl } } } } }));
    expect(cookie('0s')).to.deep.equal([]);
    expect(cookie('soon')).to.have.length(1);
  });

  it('counts a hash key as set when present, even when false or empty', () => {
    const hash = (consistentHash: object) => errorsOf(dr({ trafficPolicy: { loadBalancer: { consistentHash } } }));
    expect(hash({ useSourceIp: false, httpHeaderName: '' })[0]).to.include('only one of httpHeaderName');
    expect(hash({ httpQueryParameterName: 'u' })).to.deep.equal([]);
    const none = warningsOf(dr({ trafficPolicy: { loadBalancer: { consistentHash: { ringHash: { minimumRingSize: 64 } } } } }));
    expect(none.join()).to.include('no hash key');
  });

  it('requires Maglev table sizes to be primes below 5000011', () => {
    const maglev = (tableSize?: number) =>
      errorsOf(dr({ trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true, maglev: tableSize === undefined ? {} : { tableSize } } } } }));
    expect(maglev(65537)).to.deep.equal([]);
    expect(maglev(4999999)).to.deep.equal([]);
    expect(maglev()[0]).to.include('must be set');
    expect(maglev(5000011)[0]).to.include('less than 5000011');
    expect(maglev(1000)[0]).to.include('prime');
    expect([2, 3, 5, 65537].every(isPrime)).to.equal(true);
    expect([0, 1, 4, 9, 65535].some(isPrime)).to.equal(false);
  });

  describe('locality load balancing', () => {
    const lb = (localityLbSetting: object, outlier = true) =>
      validateDestinationRule(dr({
        trafficPolicy: { loadBalancer: { localityLbSetting }, ...(outlier ? { outlierDetection: { consecutive5xxErrors: 3 } } : {}) },
      }));
    const errs = (s: object) => lb(s).errors.map(formatFinding);

    it('sums distribute weights per source, each in 1..100', () => {
      expect(errs({ distribute: [{ from: 'a/*', to: { 'a/*': 60, 'b/*': 40 } }, { from: 'b/*', to: { 'b/*': 100 } }] })).to.deep.equal([]);
      expect(errs({ distribute: [{ from: 'a/*', to: { 'a/*': 60, 'b/*': 30 } }] })[0]).to.include('must sum to 100 (they sum to 90)');
      expect(errs({ distribute: [{ from: 'a/*', to: { 'a/*': 0, 'b/*': 100 } }] })[0]).to.include('range [1, 100]');
    });

    it('refuses overlapping and malformed localities', () => {
      expect(errs({ distribute: [{ from: 'a/*', to: { 'a/*': 50, 'a/z1': 50 } }] })[0]).to.include('overlaps');
      expect(errs({ distribute: [{ from: '*', to: { 'a': 100 } }, { from: 'b', to: { 'b': 100 } }] })[0]).to.include('overlaps');
      expect(errs({ distribute: [{ from: 'a//c', to: { 'a': 100 } }] })[0]).to.include('no empty part');
      expect(errs({ distribute: [{ from: 'a/z1/s1', to: { 'a/z1/s2': 100 } }, { from: 'a/z1/s2', to: { 'a': 100 } }] })).to.deep.equal([]);
    });

    it('names regions only in failover, and warns when nothing detects failures', () => {
      expect(errs({ failover: [{ from: 'us-east', to: 'eu-west' }] })).to.deep.equal([]);
      expect(errs({ failover: [{ from: 'us-east/z1', to: 'eu-west' }] })[0]).to.include('regions');
      expect(errs({ failover: [{ from: 'us-*', to: 'eu-west' }] })[0]).to.include('wildcard');
      expect(errs({ failover: [{ from: 'a', to: 'b' }], failoverPriority: ['topology.kubernetes.io/zone'] })[0]).to.include('failoverPriority');
      expect(lb({ failoverPriority: ['version'] }, false).warnings.map((w) => w.message).join()).to.include('outlierDetection');
    });
  });

  describe('TLS towards the upstream', () => {
    const tls = (t: object) => errorsOf(dr({ trafficPolicy: { tls: t } }));
    it('needs a client certificate and key for MUTUAL unless a credential holds them', () => {
      expect(tls({ mode: 'MUTUAL' }).map((e) => e.split(':')[0])).to.deep.equal(['spec.trafficPolicy.tls.clientCertificate', 'spec.trafficPolicy.tls.privateKey']);
      expect(tls({ mode: 'MUTUAL', credentialName: 'c' })).to.deep.equal([]);
      expect(tls({ mode: 'MUTUAL', credentialName: 'c', privateKey: '/k' })[0]).to.include('credentialName');
    });
    it('refuses verification material that insecureSkipVerify would ignore', () => {
      expect(tls({ mode: 'SIMPLE', insecureSkipVerify: true, subjectAltNames: ['a'] })).to.have.length(1);
      expect(tls({ mode: 'MUTUAL', insecureSkipVerify: true, credentialName: 'c' })).to.deep.equal([]);
      expect(tls({ mode: 'DISABLE', insecureSkipVerify: true, caCertificates: '/ca' })).to.deep.equal([]);
    });
    it('warns that ISTIO_MUTUAL ignores certificate files, but keeps SNI and SANs', () => {
      const r = validateDestinationRule(dr({ trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL', clientCertificate: '/c', sni: 'x', subjectAltNames: ['y'] } } }));
      expect(r.errors).to.deep.equal([]);
      expect(r.warnings.map((w) => w.message)).to.deep.equal(["ISTIO_MUTUAL uses the mesh's workload certificates; clientCertificate is ignored"]);
    });
  });

  it('keeps a rule with a workload selector in its own namespace', () => {
    const sel = { workloadSelector: { matchLabels: { app: 'a' } } };
    expect(errorsOf(dr({ ...sel, exportTo: ['.'] }, 'prod'))).to.deep.equal([]);
    expect(errorsOf(dr({ ...sel, exportTo: ['prod'] }, 'prod'))).to.deep.equal([]);
    expect(errorsOf(dr({ ...sel, exportTo: ['.', 'prod'] }, 'prod')).join()).to.include('duplicate exportTo entry');
    expect(errorsOf(dr({ ...sel, exportTo: ['.', 'other'] }, 'prod')).join()).to.include('multiple entries');
    expect(errorsOf(dr({ ...sel, exportTo: ['other'] }, 'prod')).join()).to.include('beyond current namespace');
    expect(errorsOf(dr({ exportTo: ['other', 'prod'] }, 'prod'))).to.deep.equal([]);
  });

  it('warns about deprecated fields without refusing them', () => {
    const r = validateDestinationRule(dr({
      trafficPolicy: {
        loadBalancer: { simple: 'ROUND_ROBIN', warmupDurationSecs: '30s' },
        outlierDetection: { consecutiveErrors: 5 },
      },
    }));
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings.map((w) => w.field)).to.deep.equal([
      'spec.trafficPolicy.outlierDetection.consecutiveErrors',
      'spec.trafficPolicy.loadBalancer.warmupDurationSecs',
    ]);
  });

  it('refuses an empty policy at any level but accepts a subset without one', () => {
    expect(errorsOf(dr({ subsets: [{ name: 'v1', labels: { version: 'v1' } }] }))).to.deep.equal([]);
    expect(errorsOf(dr({ subsets: [{ name: 'v1', trafficPolicy: {} }] }))[0]).to.match(/^spec\.subsets\[0\]\.trafficPolicy: traffic policy must have at least one field/);
  });
});
