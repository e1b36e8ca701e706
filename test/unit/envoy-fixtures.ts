// Representative Envoy objects as translation writes them (object form, no proto3 defaults spelled out), shared
// by the encoding and weftctl proxy-config tests.
import type { ProxyConfig } from '../../src/translate/types.ts';
import { any, bool, duration, u32 } from '../../src/translate/envoy/values.ts';

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const REVIEWS = 'reviews.default.svc.cluster.local';

export const listener = {
  name: '0.0.0.0_9080',
  address: { socketAddress: { address: '0.0.0.0', portValue: 9080 } },
  trafficDirection: 'OUTBOUND',
  bindToPort: bool(false),
  listenerFilters: [
    { name: 'envoy.filters.listener.tls_inspector', typedConfig: any('envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector') },
    { name: 'envoy.filters.listener.http_inspector', typedConfig: any('envoy.extensions.filters.listener.http_inspector.v3.HttpInspector') },
  ],
  filterChains: [
    {
      filterChainMatch: { applicationProtocols: ['http/1.1', 'h2c'] },
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typedConfig: any(HCM, {
            statPrefix: 'outbound_0.0.0.0_9080',
            rds: { routeConfigName: '9080', configSource: { ads: {}, resourceApiVersion: 'V3' } },
            httpFilters: [
              { name: 'envoy.filters.http.fault', typedConfig: any('envoy.extensions.filters.http.fault.v3.HTTPFault') },
              { name: 'envoy.filters.http.cors', typedConfig: any('envoy.extensions.filters.http.cors.v3.Cors') },
              { name: 'envoy.filters.http.router', typedConfig: any('envoy.extensions.filters.http.router.v3.Router') },
            ],
            useRemoteAddress: bool(false),
            normalizePath: bool(true),
            pathWithEscapedSlashesAction: 'KEEP_UNCHANGED',
            upgradeConfigs: [{ upgradeType: 'websocket' }],
            accessLog: [
              {
                name: 'envoy.access_loggers.file',
                typedConfig: any('envoy.extensions.access_loggers.file.v3.FileAccessLog', { path: '/dev/stdout' }),
              },
            ],
          }),
        },
      ],
    },
  ],
};

export const route = {
  name: '9080',
  virtualHosts: [
    {
      name: `${REVIEWS}:9080`,
      domains: [REVIEWS, `${REVIEWS}:9080`, 'reviews', 'reviews:9080'],
      routes: [
        {
          name: 'jason',
          match: { prefix: '/', headers: [{ name: 'end-user', stringMatch: { exact: 'jason' } }] },
          route: {
            weightedClusters: {
              clusters: [
                { name: `outbound|9080|v1|${REVIEWS}`, weight: u32(75) },
                { name: `outbound|9080|v2|${REVIEWS}`, weight: u32(25) },
              ],
            },
            timeout: duration('2.5s'),
            retryPolicy: {
              retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
              numRetries: u32(2),
              retryHostPredicate: [
                {
                  name: 'envoy.retry_host_predicates.previous_hosts',
                  typedConfig: any('envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate'),
                },
              ],
              hostSelectionRetryMaxAttempts: 5,
              retriableStatusCodes: [503],
            },
          },
          typedPerFilterConfig: {
            'envoy.filters.http.fault': any('envoy.extensions.filters.http.fault.v3.HTTPFault', {
              delay: { fixedDelay: duration('5s'), percentage: { numerator: 10, denominator: 'MILLION' } },
              abort: { httpStatus: 503, percentage: { numerator: 100000, denominator: 'MILLION' } },
            }),
          },
          decorator: { operation: `${REVIEWS}:9080/*` },
        },
      ],
      includeRequestAttemptCount: true,
    },
  ],
  validateClusters: bool(false),
};

export function cluster(subset: string) {
  const name = `outbound|9080|${subset}|${REVIEWS}`;
  return {
    name,
    type: 'EDS',
    edsClusterConfig: { serviceName: name, edsConfig: { ads: {}, resourceApiVersion: 'V3' } },
    connectTimeout: duration('10s'),
    lbPolicy: 'LEAST_REQUEST',
    circuitBreakers: { thresholds: [{ maxConnections: u32(100), maxPendingRequests: u32(10), maxRetries: u32(3), trackRemaining: true }] },
    outlierDetection: {
      consecutive5xx: u32(5),
      interval: duration('10s'),
      baseEjectionTime: duration('30s'),
      maxEjectionPercent: u32(100),
      enforcingConsecutiveGatewayFailure: u32(0),
    },
    transportSocket: {
      name: 'envoy.transport_sockets.tls',
      typedConfig: any('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', {
        sni: `outbound_.9080_.${subset}_.${REVIEWS}`,
        commonTlsContext: {
          alpnProtocols: ['istio-peer-exchange', 'istio'],
          tlsCertificates: [{ certificateChain: { filename: '/var/run/weft/identity/cert-chain.pem' }, privateKey: { filename: '/var/run/weft/identity/key.pem' } }],
          validationContext: {
            trustedCa: { filename: '/var/run/weft/identity/root-cert.pem' },
            matchTypedSubjectAltNames: [{ sanType: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews' } }],
          },
        },
      }),
    },
    typedExtensionProtocolOptions: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': any('envoy.extensions.upstreams.http.v3.HttpProtocolOptions', {
        commonHttpProtocolOptions: { idleTimeout: duration('1h') },
        useDownstreamProtocolConfig: { http2ProtocolOptions: { maxConcurrentStreams: u32(1073741824) } },
      }),
    },
    metadata: {
      filterMetadata: {
        istio: { fields: { services: { listValue: { values: [{ structValue: { fields: { host: { stringValue: REVIEWS }, name: { stringValue: 'reviews' } } } }] } } } },
      },
    },
    commonLbConfig: { localityWeightedLbConfig: {} },
  };
}

export const loadAssignment = {
  clusterName: `outbound|9080|v1|${REVIEWS}`,
  endpoints: [
    {
      locality: { region: 'eu-west-1', zone: 'eu-west-1a' },
      lbEndpoints: [
        { endpoint: { address: { socketAddress: { address: '10.0.0.5', portValue: 9080 } } }, healthStatus: 'HEALTHY', loadBalancingWeight: u32(1) },
        { endpoint: { address: { socketAddress: { address: '10.0.0.6', portValue: 9080 } } }, healthStatus: 'DRAINING' },
      ],
      loadBalancingWeight: u32(2),
    },
    {
      locality: { region: 'eu-west-1', zone: 'eu-west-1b' },
      lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '10.0.1.7', portValue: 9080 } } }, healthStatus: 'HEALTHY' }],
      loadBalancingWeight: u32(1),
      priority: 1,
    },
  ],
};

export const proxyConfig: ProxyConfig = {
  workload: { kind: 'Deployment', name: 'productpage-v1', namespace: 'default', serviceAccount: 'bookinfo-productpage', labels: { version: 'v1', app: 'productpage' } },
  listeners: [listener],
  routes: [route],
  clusters: [cluster('v1'), cluster('v2')],
  endpoints: [loadAssignment],
  inputs: ['DestinationRule/default/reviews', 'VirtualService/default/reviews'],
};
