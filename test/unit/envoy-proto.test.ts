// encodeProxyConfig/decodeProxyConfig: round trips of representative Envoy objects, deterministic bytes, and
// invalid objects refused with the resource and field named.
import { expect } from 'chai';
import {
  decodeMessage, decodeProxyConfig, encodeMessage, encodeProxyConfig, envoyRoot, ProxyConfigError, withVersion,
} from '../../src/translate/envoy/proto.ts';
import { any, duration, u32 } from '../../src/translate/envoy/values.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { cluster, listener, loadAssignment, proxyConfig, route } from './envoy-fixtures.ts';

const clone = <T>(x: T): T => structuredClone(x);

function encodeError(pc: ProxyConfig): ProxyConfigError {
  try {
    encodeProxyConfig(pc);
  } catch (e) {
    expect(e).to.be.instanceOf(ProxyConfigError);
    return e as ProxyConfigError;
  }
  throw new Error('expected encodeProxyConfig to throw');
}

function withCluster(c: Record<string, unknown>): ProxyConfig {
  return { ...proxyConfig, clusters: [cluster('v1'), c] };
}

describe('envoy proto encoding', () => {
  describe('round trips', () => {
    const cases: Array<[string, string, Record<string, unknown>]> = [
      ['a listener with an HCM Any using RDS', 'envoy.config.listener.v3.Listener', listener],
      ['a route config with weighted clusters, a retry policy and a fault per-filter config', 'envoy.config.route.v3.RouteConfiguration', route],
      ['a cluster with an UpstreamTlsContext transport socket and outlier detection', 'envoy.config.cluster.v3.Cluster', cluster('v1')],
      ['a load assignment with localities and priorities', 'envoy.config.endpoint.v3.ClusterLoadAssignment', loadAssignment],
    ];
    for (const [what, type, obj] of cases) {
      it(what, () => {
        expect(decodeMessage(type, encodeMessage(type, obj))).to.deep.equal(obj);
      });
    }

    it('a whole ProxyConfig', () => {
      expect(decodeProxyConfig(encodeProxyConfig(proxyConfig))).to.deep.equal(proxyConfig);
    });

    it('an empty ProxyConfig', () => {
      const empty: ProxyConfig = {
        workload: { kind: 'Pod', name: 'p', namespace: 'ns', serviceAccount: 'default', labels: {} },
        listeners: [], routes: [], clusters: [], endpoints: [], inputs: [],
      };
      expect(decodeProxyConfig(encodeProxyConfig(empty))).to.deep.equal(empty);
    });

    it('keeps wrapper values that are zero or false', () => {
      const c = { name: 'c', outlierDetection: { enforcingConsecutive5xx: u32(0) }, respectDnsTtl: true, perConnectionBufferLimitBytes: u32(0) };
      expect(decodeMessage('envoy.config.cluster.v3.Cluster', encodeMessage('envoy.config.cluster.v3.Cluster', c))).to.deep.equal(c);
    });

    it('leaves out fields holding their proto3 default, as the wire does (oneof members have presence)', () => {
      const c = { name: 'c', lbPolicy: 'ROUND_ROBIN', type: 'STATIC', connectTimeout: { seconds: 0, nanos: 5e8 }, dnsLookupFamily: 'AUTO' };
      expect(decodeMessage('envoy.config.cluster.v3.Cluster', encodeMessage('envoy.config.cluster.v3.Cluster', c))).to.deep.equal({
        name: 'c', type: 'STATIC', connectTimeout: { nanos: 5e8 },
      });
    });

    it('carries the version appended by withVersion', () => {
      const bytes = encodeProxyConfig(proxyConfig);
      const decoded = decodeProxyConfig(withVersion(bytes, 'abc123'));
      expect(decoded.version).to.equal('abc123');
      const { version: _, ...rest } = decoded;
      expect(rest).to.deep.equal(proxyConfig);
    });
  });

  describe('determinism', () => {
    it('gives the same bytes for the same object', () => {
      expect(Buffer.from(encodeProxyConfig(proxyConfig)).equals(Buffer.from(encodeProxyConfig(clone(proxyConfig))))).to.equal(true);
    });

    it('does not depend on the insertion order of map keys or object fields', () => {
      const reordered = clone(proxyConfig);
      reordered.workload = { ...reordered.workload, labels: { app: 'productpage', version: 'v1' } };
      const c = reordered.clusters[0]!;
      const tepo = c.typedExtensionProtocolOptions as Record<string, unknown>;
      c.typedExtensionProtocolOptions = { zzz: any('envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions'), ...tepo };
      const original = clone(proxyConfig);
      original.clusters[0]!.typedExtensionProtocolOptions = { ...tepo, zzz: any('envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions') };
      reordered.clusters[1] = Object.fromEntries(Object.entries(reordered.clusters[1]!).reverse());
      expect(Buffer.from(encodeProxyConfig(reordered)).equals(Buffer.from(encodeProxyConfig(original)))).to.equal(true);
    });
  });

  describe('refusing invalid objects', () => {
    it('names the resource and field of an unknown enum value', () => {
      const e = encodeError(withCluster({ ...cluster('v2'), lbPolicy: 'ROUND_ROBINN' }));
      expect(e.resource).to.equal('Cluster "outbound|9080|v2|reviews.default.svc.cluster.local" (clusters[1])');
      expect(e.field).to.equal('lbPolicy');
      expect(e.message).to.match(/^invalid Cluster ".*" \(clusters\[1\]\): lbPolicy: unknown value "ROUND_ROBINN" of enum envoy\.config\.cluster\.v3\.Cluster\.LbPolicy \(one of ROUND_ROBIN, LEAST_REQUEST/);
    });

    it('follows the path into an Any', () => {
      const c = cluster('v2');
      const tls = c.transportSocket.typedConfig as Record<string, Record<string, unknown>>;
      tls.commonTlsContext!.tlsParams = { tlsMinimumProtocolVersion: 'TLSv9' };
      const e = encodeError(withCluster(c));
      expect(e.field).to.equal('transportSocket.typedConfig.commonTlsContext.tlsParams.tlsMinimumProtocolVersion');
      expect(e.message).to.include('unknown value "TLSv9" of enum envoy.extensions.transport_sockets.tls.v3.TlsParameters.TlsProtocol');
    });

    it('refuses unknown fields and suggests the camelCase name', () => {
      const e = encodeError(withCluster({ ...cluster('v2'), connect_timeout: duration('1s') }));
      expect(e.message).to.include('connect_timeout: unknown field of envoy.config.cluster.v3.Cluster (did you mean "connectTimeout"?)');
      expect(encodeError(withCluster({ ...cluster('v2'), consecutive_5xx: 1 })).message).to.include('unknown field');
    });

    it('refuses an Any whose type is not in the descriptor, or without @type', () => {
      const l = clone(listener);
      l.listenerFilters[0]!.typedConfig = any('envoy.extensions.filters.listener.nope.v3.Nope');
      const e = encodeError({ ...proxyConfig, listeners: [l] });
      expect(e.resource).to.equal('Listener "0.0.0.0_9080" (listeners[0])');
      expect(e.message).to.include('listenerFilters[0].typedConfig.@type: envoy.extensions.filters.listener.nope.v3.Nope is not a message type');
      l.listenerFilters[0]!.typedConfig = { name: 'x' } as never;
      expect(encodeError({ ...proxyConfig, listeners: [l] }).message).to.include('an Any needs "@type"');
    });

    it('refuses two members of one oneof', () => {
      const r = clone(route);
      (r.virtualHosts[0]!.routes[0]!.route as Record<string, unknown>).cluster = 'outbound|9080||x';
      const e = encodeError({ ...proxyConfig, routes: [r] });
      expect(e.field).to.equal('virtualHosts[0].routes[0].route.cluster');
      expect(e.message).to.include('"weightedClusters" is set too; they are members of oneof "clusterSpecifier"');
    });

    it('refuses scalars of the wrong type or range', () => {
      const la = clone(loadAssignment);
      (la.endpoints[0]!.lbEndpoints[0]!.endpoint.address.socketAddress as Record<string, unknown>).portValue = '9080';
      expect(encodeError({ ...proxyConfig, endpoints: [la] }).message).to.include(
        'endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.portValue: expected a uint32, got "9080"',
      );
      expect(encodeError(withCluster({ name: 'c', connectTimeout: { seconds: 1, nanos: -1 } })).message).to.include('same sign');
      expect(encodeError(withCluster({ name: 'c', perConnectionBufferLimitBytes: u32(-1) })).message).to.include('expected a uint32, got -1');
      expect(encodeError(withCluster({ name: 'c', metadata: null })).message).to.include('null is not a value');
      expect(encodeError(withCluster({ name: 'c', healthChecks: {} })).message).to.include('expected a list');
    });

    it('names the workload and the inputs when they are wrong', () => {
      const pc = clone(proxyConfig);
      (pc.workload as { labels: unknown }).labels = { app: 1 };
      expect(encodeError(pc).message).to.equal('invalid workload: labels["app"]: expected a string, got 1');
      expect(encodeError({ ...proxyConfig, inputs: [1 as unknown as string] }).message).to.include('inputs[0]: expected a string');
    });
  });

  describe('values', () => {
    it('duration from Go-style strings and milliseconds', () => {
      expect(duration('1.5s')).to.deep.equal({ seconds: 1, nanos: 500_000_000 });
      expect(duration('1m30s')).to.deep.equal({ seconds: 90 });
      expect(duration(250)).to.deep.equal({ nanos: 250_000_000 });
      expect(duration('0s')).to.deep.equal({});
      expect(duration('-1.5s')).to.deep.equal({ seconds: -1, nanos: -500_000_000 });
      expect(() => duration('soon')).to.throw('invalid duration "soon"');
    });

    it('any and u32', () => {
      expect(any('envoy.extensions.filters.http.router.v3.Router', { suppressEnvoyHeaders: true })).to.deep.equal({
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', suppressEnvoyHeaders: true,
      });
      expect(u32(7)).to.deep.equal({ value: 7 });
    });
  });

  it('has every type weft puts into an Any', () => {
    for (const name of [
      'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
      'envoy.extensions.filters.network.rbac.v3.RBAC',
      'envoy.extensions.filters.network.direct_response.v3.Config',
      'envoy.extensions.filters.http.router.v3.Router',
      'envoy.extensions.filters.http.fault.v3.HTTPFault',
      'envoy.extensions.filters.http.cors.v3.CorsPolicy',
      'envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
      'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
      'envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
      'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
      'envoy.extensions.load_balancing_policies.maglev.v3.Maglev',
      'envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash',
      'envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
      'envoy.extensions.access_loggers.file.v3.FileAccessLog',
      'envoy.config.core.v3.HealthCheck',
      'envoy.type.matcher.v3.RegexMatcher',
      'weft.v1.ProxyBundle',
    ]) {
      expect(() => envoyRoot.lookupType(name), name).not.to.throw();
    }
  });
});
