// Route translation: the outbound RouteConfigurations a sidecar gets — virtual hosts and their domains, default
// routes, and every VirtualService http feature as Envoy route fields. Every output is also run through the strict
// Envoy encoder and must decode back unchanged (translate-lds-support.ts).
import { expect } from 'chai';
import type { VirtualServiceSpec } from '../../src/api/index.ts';
import type { HTTPRoute } from '../../src/translate/vs-types.ts';
import {
  app, clusterIPOf, destinationRule, serviceEntry, snapshotOf, virtualService, type InputPart,
} from '../support/mesh-fixtures.ts';
import { type Any, xds } from './translate-lds-support.ts';

const REVIEWS = 'reviews.bookinfo.svc.cluster.local';
const RATINGS = 'ratings.bookinfo.svc.cluster.local';
const out = (port: number, host = REVIEWS, subset = '') => `outbound|${port}|${subset}|${host}`;

const bookinfo = (...more: InputPart[]) => snapshotOf(
  app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1'], v2: ['10.0.0.2'] } }),
  app('productpage', 'bookinfo', { port: 9080, versions: { v1: ['10.0.1.1'] } }),
  app('ratings', 'bookinfo', { port: 9080, versions: { v1: ['10.0.2.1'] } }),
  ...more,
);
const vs = (spec: VirtualServiceSpec, name = 'reviews', ns = 'bookinfo', created?: string) =>
  ({ config: { virtualServices: [virtualService(name, ns, spec, created ? { created } : {})] } });
/** productpage's routes for reviews on 9080 under one VirtualService of http rules. */
const reviewsRoutes = (...http: HTTPRoute[]): Any[] => xds(bookinfo(vs({ hosts: ['reviews'], http })), 'bookinfo', 'productpage-v1').routesOf(REVIEWS, 9080);
const to = (host: string, subset?: string, extra: Record<string, unknown> = {}) => ({ destination: { host, ...(subset ? { subset } : {}) }, ...extra });

const DEFAULT_RETRY = {
  retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
  numRetries: { value: 2 },
  hostSelectionRetryMaxAttempts: 5,
  retriableStatusCodes: [503],
  retryHostPredicate: [{
    name: 'envoy.retry_host_predicates.previous_hosts',
    typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' },
  }],
};

describe('translate/routes', () => {
  describe('route configurations and virtual hosts', () => {
    it('names one route configuration per outbound HTTP port, with a virtual host per service and the catch-all last', () => {
      const r = xds(bookinfo(), 'bookinfo', 'productpage-v1');
      expect(r.routeNames()).to.deep.equal(['9080']);
      const rc = r.routeConfig('9080');
      expect(rc.virtualHosts.map((v: Any) => v.name)).to.deep.equal([
        'productpage.bookinfo.svc.cluster.local:9080', `${RATINGS}:9080`, `${REVIEWS}:9080`, 'allow_any',
      ]);
      expect(rc.validateClusters).to.deep.equal({ value: false });
      expect(rc.maxDirectResponseBodySizeBytes).to.deep.equal({ value: 1048576 });
    });

    it('gives a service every name a client in its namespace can use, with and without the port', () => {
      const r = xds(bookinfo(), 'bookinfo', 'productpage-v1');
      const ip = clusterIPOf('reviews', 'bookinfo');
      expect(r.vhost('9080', `${REVIEWS}:9080`).domains).to.deep.equal([
        REVIEWS, `${REVIEWS}:9080`, 'reviews', 'reviews:9080', 'reviews.bookinfo.svc', 'reviews.bookinfo.svc:9080',
        'reviews.bookinfo', 'reviews.bookinfo:9080', ip, `${ip}:9080`,
      ]);
    });

    it('leaves the bare short name out for a client in another namespace', () => {
      const snap = bookinfo(app('client', 'other', { port: 8000 }));
      const domains: string[] = xds(snap, 'other', 'client-v1').vhost('9080', `${REVIEWS}:9080`).domains;
      expect(domains).to.include.members(['reviews.bookinfo', 'reviews.bookinfo.svc:9080']);
      expect(domains).not.to.include('reviews');
    });

    it('routes a service without a VirtualService to its cluster with the default retry policy and no timeout', () => {
      const [route] = xds(bookinfo(), 'bookinfo', 'productpage-v1').routesOf(REVIEWS, 9080);
      expect(route).to.deep.equal({
        name: 'default',
        match: { prefix: '/' },
        route: { cluster: out(9080), timeout: {}, maxStreamDuration: { grpcTimeoutHeaderMax: {} }, retryPolicy: DEFAULT_RETRY },
        decorator: { operation: `${REVIEWS}:9080/*` },
      });
    });

    it('sends unknown hosts to PassthroughCluster under ALLOW_ANY and answers 502 under REGISTRY_ONLY', () => {
      const allow = xds(bookinfo(), 'bookinfo', 'productpage-v1').vhost('9080', 'allow_any');
      expect(allow.domains).to.deep.equal(['*']);
      expect(allow.routes[0].route).to.deep.equal({ cluster: 'PassthroughCluster', timeout: {}, maxStreamDuration: { grpcTimeoutHeaderMax: {} } });
      const block = xds(bookinfo({ options: { outboundTrafficPolicy: 'REGISTRY_ONLY' } }), 'bookinfo', 'productpage-v1').vhost('9080', 'block_all');
      expect(block.routes).to.deep.equal([{ name: 'block_all', match: { prefix: '/' }, directResponse: { status: 502 } }]);
    });

    it('gives a sniffed (UNKNOWN) service its own route configuration answering for any host', () => {
      const snap = bookinfo(app('legacy', 'bookinfo', { ports: [{ name: 'legacy', port: 7000 }] }));
      const r = xds(snap, 'bookinfo', 'productpage-v1');
      const host = 'legacy.bookinfo.svc.cluster.local';
      expect(r.routeNames()).to.deep.equal(['9080', `${host}:7000`]);
      const rc = r.routeConfig(`${host}:7000`);
      expect(rc.virtualHosts).to.have.length(1);
      expect(rc.virtualHosts[0]).to.include({ name: `${host}:7000` });
      expect(rc.virtualHosts[0].domains).to.deep.equal(['*']);
      expect(rc.virtualHosts[0].routes[0].route.cluster).to.equal(out(7000, host));
    });

    it('adds virtual hosts for VirtualService hosts outside the registry on port 80', () => {
      const snap = snapshotOf(
        app('web', 'shop', { port: 80 }),
        vs({ hosts: ['shop.example.com'], http: [{ route: [to('web')] }] }, 'front', 'shop'),
      );
      const r = xds(snap, 'shop', 'web-v1');
      const v = r.vhost('80', 'shop.example.com:80');
      expect(v.domains).to.deep.equal(['shop.example.com', 'shop.example.com:80']);
      expect(v.routes[0].route.cluster).to.equal(out(80, 'web.shop.svc.cluster.local'));
      expect(r.pc.inputs).to.include('VirtualService/shop/front');
    });

    it('applies a wildcard VirtualService host to the services it covers', () => {
      const snap = snapshotOf(
        app('web', 'shop', { port: 80 }),
        { config: { serviceEntries: [serviceEntry('ext', 'shop', { hosts: ['api.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' })] } },
        vs({ hosts: ['*.example.com'], http: [{ timeout: '3s', route: [to('api.example.com')] }] }, 'wild', 'shop'),
      );
      const [route] = xds(snap, 'shop', 'web-v1').routesOf('api.example.com', 80);
      expect(route.route.timeout).to.deep.equal({ seconds: 3 });
    });

    it('keeps the first VirtualService (oldest) for a host and ignores later ones, as Istio sidecars do', () => {
      const snap = bookinfo(
        vs({ hosts: ['reviews'], http: [{ route: [to('reviews', 'v1')] }] }, 'first', 'bookinfo', '2024-01-01T00:00:00Z'),
        vs({ hosts: ['reviews'], http: [{ route: [to('reviews', 'v2')] }] }, 'second', 'bookinfo', '2024-01-02T00:00:00Z'),
      );
      const [route] = xds(snap, 'bookinfo', 'productpage-v1').routesOf(REVIEWS, 9080);
      expect(route.route.cluster).to.equal(out(9080, REVIEWS, 'v1'));
    });

    it('ignores VirtualServices bound only to gateways, and applies those that also list mesh', () => {
      const gw = xds(bookinfo(vs({ hosts: ['reviews'], gateways: ['ingress'], http: [{ route: [to('reviews', 'v2')] }] })), 'bookinfo', 'productpage-v1');
      expect(gw.routesOf(REVIEWS, 9080)[0].name).to.equal('default');
      expect(gw.pc.inputs).not.to.include('VirtualService/bookinfo/reviews');
      const mesh = xds(bookinfo(vs({ hosts: ['reviews'], gateways: ['ingress', 'mesh'], http: [{ route: [to('reviews', 'v2')] }] })), 'bookinfo', 'productpage-v1');
      expect(mesh.routesOf(REVIEWS, 9080)[0].route.cluster).to.equal(out(9080, REVIEWS, 'v2'));
      expect(mesh.pc.inputs).to.include('VirtualService/bookinfo/reviews');
    });
  });

  describe('matches', () => {
    it('turns uri, method, authority, scheme, headers and query parameters into one route match', () => {
      const [r] = reviewsRoutes({
        name: 'm',
        match: [{
          uri: { prefix: '/api' }, method: { exact: 'GET' }, authority: { regex: 'rev.*' }, scheme: { exact: 'http' },
          headers: { 'x-b': { prefix: 'v' }, 'x-a': { exact: '1' }, 'x-c': {} },
          queryParams: { q: { regex: '\\d+' }, flag: {} },
        }],
        route: [to('reviews')],
      });
      expect(r.match).to.deep.equal({
        prefix: '/api',
        caseSensitive: { value: true },
        headers: [
          { name: 'x-a', stringMatch: { exact: '1' } },
          { name: 'x-b', stringMatch: { prefix: 'v' } },
          { name: 'x-c', presentMatch: true },
          { name: ':method', stringMatch: { exact: 'GET' } },
          { name: ':authority', stringMatch: { safeRegex: { regex: 'rev.*' } } },
          { name: ':scheme', stringMatch: { exact: 'http' } },
        ],
        queryParameters: [{ name: 'flag', presentMatch: true }, { name: 'q', stringMatch: { safeRegex: { regex: '\\d+' } } }],
      });
    });

    it('matches exact and regex paths, case-insensitively when asked', () => {
      const routes = reviewsRoutes(
        { match: [{ uri: { exact: '/a' }, ignoreUriCase: true }], route: [to('reviews')] },
        { match: [{ uri: { regex: '/b/[0-9]+' } }], route: [to('reviews')] },
      );
      expect(routes[0].match).to.deep.equal({ path: '/a', caseSensitive: { value: false } });
      expect(routes[1].match).to.deep.equal({ safeRegex: { regex: '/b/[0-9]+' }, caseSensitive: { value: true } });
    });

    it('inverts withoutHeaders, treating a missing header as empty', () => {
      const [r] = reviewsRoutes({ match: [{ withoutHeaders: { 'x-user': { exact: 'bot' }, 'x-debug': {} } }], route: [to('reviews')] });
      expect(r.match.headers).to.deep.equal([
        { name: 'x-debug', presentMatch: true, invertMatch: true },
        { name: 'x-user', stringMatch: { exact: 'bot' }, invertMatch: true, treatMissingHeaderAsEmpty: true },
      ]);
    });

    it('makes each match entry its own route, in order, and stops after a catch-all', () => {
      const routes = reviewsRoutes(
        { name: 'a', match: [{ name: 'one', uri: { prefix: '/1' } }, { uri: { prefix: '/2' } }], route: [to('reviews', 'v1')] },
        { name: 'all', route: [to('reviews', 'v2')] },
        { name: 'never', route: [to('reviews', 'v3')] },
      );
      expect(routes.map((r) => r.name)).to.deep.equal(['a.one', 'a', 'all']);
      expect(routes.map((r) => r.match.prefix)).to.deep.equal(['/1', '/2', '/']);
    });

    it('names unnamed rules after their VirtualService and position', () => {
      const [r] = reviewsRoutes({ route: [to('reviews')] });
      expect(r.name).to.equal('bookinfo/reviews/http[0]');
    });

    it('keeps only the match entries for this port', () => {
      const snap = bookinfo(
        app('multi', 'bookinfo', { ports: [{ name: 'http', port: 8080 }, { name: 'http-admin', port: 9090 }] }),
        vs({ hosts: ['multi'], http: [
          { name: 'admin', match: [{ port: 9090 }], route: [to('multi', undefined, {})] },
          { name: 'rest', route: [to('multi')] },
        ] }, 'multi'),
      );
      const r = xds(snap, 'bookinfo', 'productpage-v1');
      expect(r.routesOf('multi.bookinfo.svc.cluster.local', 9090).map((x: Any) => x.name)).to.deep.equal(['admin']);
      expect(r.routesOf('multi.bookinfo.svc.cluster.local', 8080).map((x: Any) => x.name)).to.deep.equal(['rest']);
      // No destination port on a multi-port service: the listener's port.
      expect(r.routesOf('multi.bookinfo.svc.cluster.local', 9090)[0].route.cluster).to.equal(out(9090, 'multi.bookinfo.svc.cluster.local'));
    });

    it('settles sourceLabels, sourceNamespace and gateways against this workload', () => {
      const http: HTTPRoute[] = [
        { name: 'other-app', match: [{ sourceLabels: { app: 'ratings' } }], route: [to('reviews', 'v3')] },
        { name: 'other-ns', match: [{ sourceNamespace: 'elsewhere' }], route: [to('reviews', 'v3')] },
        { name: 'gateway-only', match: [{ gateways: ['ingress'] }], route: [to('reviews', 'v3')] },
        { name: 'mine', match: [{ sourceLabels: { app: 'productpage' }, sourceNamespace: 'bookinfo', headers: { x: { exact: '1' } } }], route: [to('reviews', 'v2')] },
        { name: 'mesh', match: [{ gateways: ['mesh'], headers: { y: { exact: '1' } } }], route: [to('reviews', 'v2')] },
        { name: 'rest', route: [to('reviews', 'v1')] },
      ];
      expect(reviewsRoutes(...http).map((r) => r.name)).to.deep.equal(['mine', 'mesh', 'rest']);
      const ratingsView = xds(bookinfo(vs({ hosts: ['reviews'], http })), 'bookinfo', 'ratings-v1').routesOf(REVIEWS, 9080);
      expect(ratingsView.map((r: Any) => r.name)).to.deep.equal(['other-app']);
    });

    it('falls back to the default route when no rule applies to this workload', () => {
      const routes = reviewsRoutes({ match: [{ sourceLabels: { app: 'nobody' } }], route: [to('reviews', 'v2')] });
      expect(routes.map((r) => r.name)).to.deep.equal(['default']);
    });
  });

  describe('destinations', () => {
    it('routes one destination to its subset cluster and splits several by weight, leaving out zero weights', () => {
      const [single] = reviewsRoutes({ route: [to('reviews', 'v2')] });
      expect(single.route.cluster).to.equal(out(9080, REVIEWS, 'v2'));
      expect(single.decorator).to.deep.equal({ operation: `${REVIEWS}:9080/*` });
      const [split] = reviewsRoutes({ route: [to('reviews', 'v1', { weight: 75 }), to('reviews', 'v2', { weight: 25 }), to('reviews', 'v3', { weight: 0 })] });
      expect(split.route.weightedClusters).to.deep.equal({ clusters: [
        { name: out(9080, REVIEWS, 'v1'), weight: { value: 75 } },
        { name: out(9080, REVIEWS, 'v2'), weight: { value: 25 } },
      ] });
      expect(split.decorator).to.deep.equal({ operation: 'reviews:9080/*' });
    });

    it('drops a split whose destinations all have weight 0 (Envoy needs a weighted cluster)', () => {
      const routes = reviewsRoutes(
        { name: 'none', match: [{ uri: { prefix: '/x' } }], route: [to('reviews', 'v1', { weight: 0 }), to('reviews', 'v2', { weight: 0 })] },
        { name: 'rest', route: [to('reviews')] },
      );
      expect(routes.map((r) => r.name)).to.deep.equal(['rest']);
    });

    it('resolves destination ports: given, the service\'s only port, else the listener port', () => {
      const snap = bookinfo(
        app('details', 'bookinfo', { port: 8000 }),
        vs({ hosts: ['reviews'], http: [{ route: [to('details', undefined, { weight: 50 }), { destination: { host: 'ratings', port: { number: 9999 } }, weight: 50 }] }] }),
      );
      const [r] = xds(snap, 'bookinfo', 'productpage-v1').routesOf(REVIEWS, 9080);
      expect(r.route.weightedClusters.clusters.map((c: Any) => c.name)).to.deep.equal([
        out(8000, 'details.bookinfo.svc.cluster.local'), out(9999, RATINGS),
      ]);
    });

    it('resolves short destination hosts in the VirtualService\'s namespace', () => {
      const snap = snapshotOf(
        app('reviews', 'bookinfo', { port: 9080 }),
        app('reviews', 'staging', { port: 9080 }),
        app('client', 'bookinfo', { port: 8000 }),
        vs({ hosts: ['reviews.bookinfo.svc.cluster.local'], http: [{ route: [to('reviews')] }] }, 'canary', 'staging'),
      );
      const [r] = xds(snap, 'bookinfo', 'client-v1').routesOf(REVIEWS, 9080);
      expect(r.route.cluster).to.equal(out(9080, 'reviews.staging.svc.cluster.local'));
    });

    it('writes header operations: set overwrites, add appends, remove; authority becomes a host rewrite', () => {
      const [r] = reviewsRoutes({
        headers: {
          request: { set: { 'x-b': '2', 'x-a': '1', ':authority': 'internal' }, add: { 'x-c': '3' }, remove: ['x-drop', 'host'] },
          response: { set: { 'x-r': 'r' }, remove: ['server'] },
        },
        route: [to('reviews', 'v1', { headers: { request: { add: { 'x-dest': 'd' } } } })],
      });
      expect(r.requestHeadersToAdd).to.deep.equal([
        { header: { key: 'x-a', value: '1' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
        { header: { key: 'x-b', value: '2' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
        { header: { key: 'x-c', value: '3' } },
        { header: { key: 'x-dest', value: 'd' } },
      ]);
      expect(r.requestHeadersToRemove).to.deep.equal(['x-drop']);
      expect(r.responseHeadersToAdd).to.deep.equal([{ header: { key: 'x-r', value: 'r' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }]);
      expect(r.responseHeadersToRemove).to.deep.equal(['server']);
      expect(r.route.hostRewriteLiteral).to.equal('internal');
    });

    it('puts a weighted destination\'s header operations on its cluster weight', () => {
      const [r] = reviewsRoutes({ route: [
        to('reviews', 'v1', { weight: 50, headers: { request: { set: { host: 'v1.internal' } }, response: { add: { 'x-v': '1' } } } }),
        to('reviews', 'v2', { weight: 50 }),
      ] });
      expect(r.route.weightedClusters.clusters[0]).to.deep.equal({
        name: out(9080, REVIEWS, 'v1'), weight: { value: 50 }, responseHeadersToAdd: [{ header: { key: 'x-v', value: '1' } }], hostRewriteLiteral: 'v1.internal',
      });
    });

    it('adds the route hash policy of a consistent-hash DestinationRule, and keeps retries on the hashed host', () => {
      const snap = bookinfo(
        { config: { destinationRules: [destinationRule('reviews', 'bookinfo', { host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } } })] } },
        vs({ hosts: ['reviews'], http: [{ route: [to('reviews')] }] }),
      );
      const r = xds(snap, 'bookinfo', 'productpage-v1');
      const [route] = r.routesOf(REVIEWS, 9080);
      expect(route.route.hashPolicy).to.deep.equal([{ header: { headerName: 'x-user' } }]);
      expect(route.route.retryPolicy.retryHostPredicate).to.equal(undefined);
      expect(r.pc.inputs).to.include('DestinationRule/bookinfo/reviews');
    });
  });

  describe('actions', () => {
    it('rewrites the prefix, or by regex, and the authority', () => {
      const routes = reviewsRoutes(
        { match: [{ uri: { prefix: '/v1' } }], rewrite: { uri: '/', authority: 'reviews.internal' }, route: [to('reviews')] },
        { match: [{ uri: { prefix: '/v2' } }], rewrite: { uriRegexRewrite: { match: '^/v2/(.*)$', rewrite: '/\\1' } }, route: [to('reviews')] },
      );
      expect(routes[0].route).to.include({ prefixRewrite: '/', hostRewriteLiteral: 'reviews.internal' });
      expect(routes[1].route.regexRewrite).to.deep.equal({ pattern: { regex: '^/v2/(.*)$' }, substitution: '/\\1' });
    });

    it('redirects with Envoy\'s RedirectAction, leaving out default ports', () => {
      const routes = reviewsRoutes(
        { match: [{ uri: { prefix: '/a' } }], redirect: { uri: '/b', authority: 'new.example.com', redirectCode: 302 } },
        { match: [{ uri: { prefix: '/c' } }], redirect: { scheme: 'https', port: 443 } },
        { match: [{ uri: { prefix: '/d' } }], redirect: { derivePort: 'FROM_REQUEST_PORT', redirectCode: 308 } },
        { match: [{ uri: { prefix: '/e' } }], redirect: { port: 8443, scheme: 'https' } },
        { match: [{ uri: { prefix: '/f/' } }], redirect: { authority: 'f.example.com', prefixRewrite: '/' } },
      );
      expect(routes[0].redirect).to.deep.equal({ hostRedirect: 'new.example.com', pathRedirect: '/b', responseCode: 'FOUND' });
      expect(routes[1].redirect).to.deep.equal({ schemeRedirect: 'https' });
      expect(routes[2].redirect).to.deep.equal({ portRedirect: 9080, responseCode: 'PERMANENT_REDIRECT' });
      expect(routes[3].redirect).to.deep.equal({ schemeRedirect: 'https', portRedirect: 8443 });
      expect(routes[4].redirect).to.deep.equal({ hostRedirect: 'f.example.com', prefixRewrite: '/' });
      expect(routes[0].route).to.equal(undefined);
    });

    it('answers directly with a status and an inline body', () => {
      const routes = reviewsRoutes(
        { match: [{ uri: { prefix: '/a' } }], directResponse: { status: 418, body: { string: 'teapot' } } },
        { directResponse: { status: 204 } },
      );
      expect(routes[0].directResponse).to.deep.equal({ status: 418, body: { inlineString: 'teapot' } });
      expect(routes[1].directResponse).to.deep.equal({ status: 204 });
      expect(routes[1].decorator).to.deep.equal({ operation: 'reviews:9080/*' });
    });
  });

  describe('timeouts and retries', () => {
    it('sets the rule timeout (also capping gRPC deadlines)', () => {
      const [r] = reviewsRoutes({ timeout: '1.5s', route: [to('reviews')] });
      expect(r.route.timeout).to.deep.equal({ seconds: 1, nanos: 500000000 });
      expect(r.route.maxStreamDuration).to.deep.equal({ grpcTimeoutHeaderMax: { seconds: 1, nanos: 500000000 } });
    });

    it('uses the default retry policy when retries are unset, and none when attempts is 0', () => {
      expect(reviewsRoutes({ route: [to('reviews')] })[0].route.retryPolicy).to.deep.equal(DEFAULT_RETRY);
      expect(reviewsRoutes({ retries: { attempts: 0 }, route: [to('reviews')] })[0].route.retryPolicy).to.equal(undefined);
    });

    it('translates attempts, retryOn (status codes apart), perTryTimeout, backoff, localities and previous hosts', () => {
      const [r] = reviewsRoutes({
        retries: { attempts: 4, retryOn: 'gateway-error, 502,reset', perTryTimeout: '250ms', backoff: '10ms', retryRemoteLocalities: true, retryIgnorePreviousHosts: false },
        route: [to('reviews')],
      });
      expect(r.route.retryPolicy).to.deep.equal({
        retryOn: 'gateway-error,reset,retriable-status-codes',
        numRetries: { value: 4 },
        hostSelectionRetryMaxAttempts: 5,
        retriableStatusCodes: [502],
        perTryTimeout: { nanos: 250000000 },
        retryPriority: {
          name: 'envoy.retry_priorities.previous_priorities',
          typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig', updateFrequency: 2 },
        },
        retryBackOff: { baseInterval: { nanos: 10000000 } },
      });
    });
  });

  describe('fault injection, mirroring and CORS', () => {
    const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

    it('injects delays and aborts through the fault filter\'s per-route config, percentages in millionths', () => {
      const routes = reviewsRoutes(
        { match: [{ uri: { prefix: '/a' } }], fault: { delay: { fixedDelay: '7s', percentage: { value: 0.5 } }, abort: { httpStatus: 503, percentage: { value: 100 } } }, route: [to('reviews')] },
        { match: [{ uri: { prefix: '/b' } }], fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 12.5 } } }, route: [to('reviews')] },
        { match: [{ uri: { prefix: '/c' } }], fault: { delay: { fixedDelay: '1s', percent: 30 } }, route: [to('reviews')] },
      );
      expect(routes[0].typedPerFilterConfig).to.deep.equal({ 'envoy.filters.http.fault': {
        '@type': FAULT,
        delay: { fixedDelay: { seconds: 7 }, percentage: { numerator: 5000, denominator: 'MILLION' } },
        abort: { httpStatus: 503, percentage: { numerator: 1000000, denominator: 'MILLION' } },
      } });
      expect(routes[1].typedPerFilterConfig['envoy.filters.http.fault'].abort).to.deep.equal({ grpcStatus: 14, percentage: { numerator: 125000, denominator: 'MILLION' } });
      expect(routes[2].typedPerFilterConfig['envoy.filters.http.fault'].delay.percentage).to.deep.equal({ numerator: 30 });
    });

    it('mirrors to a destination, 100% unless a percentage is given, and to every entry of mirrors', () => {
      const routes = reviewsRoutes(
        { match: [{ uri: { prefix: '/a' } }], mirror: { host: 'ratings' }, route: [to('reviews')] },
        { match: [{ uri: { prefix: '/b' } }], mirror: { host: 'reviews', subset: 'v2' }, mirrorPercentage: { value: 25 }, route: [to('reviews')] },
        { match: [{ uri: { prefix: '/c' } }], mirror: { host: 'ratings' }, mirrorPercentage: { value: 0 }, route: [to('reviews')] },
        { mirrors: [{ destination: { host: 'ratings' } }, { destination: { host: 'reviews', subset: 'v3' }, percentage: { value: 1 } }], route: [to('reviews')] },
      );
      expect(routes[0].route.requestMirrorPolicies).to.deep.equal([
        { cluster: out(9080, RATINGS), runtimeFraction: { defaultValue: { numerator: 100 } }, traceSampled: { value: false } },
      ]);
      expect(routes[1].route.requestMirrorPolicies[0]).to.deep.include({ cluster: out(9080, REVIEWS, 'v2'), runtimeFraction: { defaultValue: { numerator: 250000, denominator: 'MILLION' } } });
      expect(routes[2].route.requestMirrorPolicies).to.equal(undefined);
      expect(routes[3].route.requestMirrorPolicies.map((m: Any) => m.cluster)).to.deep.equal([out(9080, RATINGS), out(9080, REVIEWS, 'v3')]);
    });

    it('configures CORS per route', () => {
      const [r] = reviewsRoutes({
        corsPolicy: {
          allowOrigins: [{ exact: 'https://a.example' }, { regex: 'https://.*\\.b\\.example' }],
          allowMethods: ['GET', 'POST'], allowHeaders: ['x-a'], exposeHeaders: ['x-b', 'x-c'], maxAge: '24h', allowCredentials: true,
        },
        route: [to('reviews')],
      });
      expect(r.typedPerFilterConfig['envoy.filters.http.cors']).to.deep.equal({
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
        allowOriginStringMatch: [{ exact: 'https://a.example' }, { safeRegex: { regex: 'https://.*\\.b\\.example' } }],
        allowMethods: 'GET,POST', allowHeaders: 'x-a', exposeHeaders: 'x-b,x-c', maxAge: '86400',
        allowCredentials: { value: true },
        filterEnabled: { defaultValue: { numerator: 100 } },
        forwardNotMatchingPreflights: { value: true },
      });
    });
  });

  describe('delegation', () => {
    it('merges a delegate\'s rules under the root rule\'s match and records both VirtualServices', () => {
      const snap = bookinfo({ config: { virtualServices: [
        virtualService('reviews', 'bookinfo', { hosts: ['reviews'], http: [
          { name: 'api', match: [{ uri: { prefix: '/api' } }], timeout: '9s', delegate: { name: 'reviews-api', namespace: 'team' } },
          { name: 'rest', route: [to('reviews', 'v1')] },
        ] }),
        virtualService('reviews-api', 'team', { http: [
          { name: 'v2', match: [{ uri: { prefix: '/api/v2' }, headers: { x: { exact: '1' } } }], route: [to('reviews.bookinfo.svc.cluster.local', 'v2')] },
          { name: 'outside', match: [{ uri: { prefix: '/other' } }], route: [to('reviews.bookinfo.svc.cluster.local', 'v3')] },
          { route: [to('reviews.bookinfo.svc.cluster.local', 'v1')], timeout: '1s' },
        ] }),
      ] } });
      const r = xds(snap, 'bookinfo', 'productpage-v1');
      const routes = r.routesOf(REVIEWS, 9080);
      expect(routes.map((x: Any) => x.name)).to.deep.equal(['api-v2', 'api', 'rest']);
      expect(routes[0].match).to.deep.equal({ prefix: '/api/v2', caseSensitive: { value: true }, headers: [{ name: 'x', stringMatch: { exact: '1' } }] });
      expect(routes[0].route.timeout).to.deep.equal({ seconds: 9 });
      expect(routes[1].match.prefix).to.equal('/api');
      expect(routes[1].route.timeout).to.deep.equal({ seconds: 1 });
      expect(r.pc.inputs).to.include.members(['VirtualService/bookinfo/reviews', 'VirtualService/team/reviews-api']);
    });

    it('drops a rule whose delegate is missing', () => {
      const routes = reviewsRoutes(
        { match: [{ uri: { prefix: '/x' } }], delegate: { name: 'missing' } },
        { name: 'rest', route: [to('reviews')] },
      );
      expect(routes.map((r) => r.name)).to.deep.equal(['rest']);
    });
  });

  it('is deterministic', () => {
    const a = xds(bookinfo(vs({ hosts: ['reviews'], http: [{ route: [to('reviews', 'v1', { weight: 1 }), to('reviews', 'v2', { weight: 1 })] }] })), 'bookinfo', 'productpage-v1');
    const b = xds(bookinfo(vs({ hosts: ['reviews'], http: [{ route: [to('reviews', 'v1', { weight: 1 }), to('reviews', 'v2', { weight: 1 })] }] })), 'bookinfo', 'productpage-v1');
    expect(JSON.stringify(a.pc.routes)).to.equal(JSON.stringify(b.pc.routes));
  });
});
