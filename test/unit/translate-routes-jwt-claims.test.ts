// VirtualService matches on JWT claims (`@request.auth.claims.<claim>` in headers / withoutHeaders) as Istio
// writes them: a route `dynamicMetadata` MetadataMatcher on `istio_authn` at `request.auth.claims` + the claim
// names, one list element matching; inverted for withoutHeaders. The gateway's jwt_authn providers clear the route
// cache so the route is chosen again after authentication; a sidecar's are left alone (as Istio).
import { expect } from 'chai';
import type { GatewaySpec, RequestAuthentication } from '../../src/api/index.ts';
import { simulate } from '../../src/proxy/routing/index.ts';
import { translate } from '../../src/translate/index.ts';
import { isCatchAll, routeMatch, routingClaim } from '../../src/translate/route-match.ts';
import {
  app, deployment, gateway, namespace, snapshotOf, virtualService, type InputPart,
} from '../support/mesh-fixtures.ts';

const claims = (path: string[], sm: Record<string, unknown>, invert = false) => ({
  filter: 'istio_authn',
  path: ['request.auth.claims', ...path].map((key) => ({ key })),
  value: { listMatch: { oneOf: sm } },
  ...(invert ? { invert: true } : {}),
});

describe('translate: JWT claim matches in VirtualService routes', () => {
  it('reads claim keys as Istio does: dotted, bracketed, the prefix in any case; anything else is a header', () => {
    expect(routingClaim('@request.auth.claims.groups')).to.deep.equal(['groups']);
    expect(routingClaim('@request.auth.claims.a.b')).to.deep.equal(['a', 'b']);
    expect(routingClaim('@request.auth.claims[a][b]')).to.deep.equal(['a', 'b']);
    expect(routingClaim('@request.auth.claims[a.b]')).to.deep.equal(['a.b']);
    expect(routingClaim('@Request.Auth.Claims.Groups')).to.deep.equal(['Groups']);
    for (const k of ['@request.auth.claims', '@request.auth.claims.', '@request.auth.claims[]', '@request.auth.claimsx', 'x-user']) {
      expect(routingClaim(k), k).to.equal(undefined);
    }
  });

  it('turns headers and withoutHeaders on claims into dynamic metadata matchers beside the header matchers', () => {
    const m = routeMatch({
      uri: { prefix: '/headers' },
      headers: { '@request.auth.claims.groups': { exact: 'group1' }, 'x-a': { exact: '1' }, '@request.auth.claims[org][id]': { prefix: 'o-' } },
      withoutHeaders: { '@request.auth.claims.role': { regex: 'adm.*' }, '@request.auth.claims.banned': {} },
    });
    expect(m).to.deep.equal({
      prefix: '/headers',
      caseSensitive: { value: true },
      headers: [{ name: 'x-a', stringMatch: { exact: '1' } }],
      dynamicMetadata: [
        claims(['groups'], { stringMatch: { exact: 'group1' } }),
        claims(['org', 'id'], { stringMatch: { prefix: 'o-' } }),
        // An empty condition: any element (Istio would give Envoy a matcher without a pattern).
        claims(['banned'], { presentMatch: true }, true),
        claims(['role'], { stringMatch: { safeRegex: { regex: 'adm.*' } } }, true),
      ],
    });
  });

  it('keeps a malformed claim key an ordinary header, and a claim match is never a catch-all', () => {
    expect(routeMatch({ headers: { '@request.auth.claims': { exact: 'x' } } }).headers)
      .to.deep.equal([{ name: '@request.auth.claims', stringMatch: { exact: 'x' } }]);
    expect(isCatchAll(routeMatch({ headers: { '@request.auth.claims.groups': { exact: 'g' } } }))).to.equal(false);
  });

  describe('on a gateway with a RequestAuthentication', () => {
    const GATEWAY_POD = { annotations: { 'weft.dev/proxy-mode': 'gateway' } };
    const gw: GatewaySpec = { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] };
    const ra = (ns: string, labels: Record<string, string>): RequestAuthentication => ({
      apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication',
      metadata: { name: 'jwt', namespace: ns, uid: `uid-ra-${ns}`, generation: 1, creationTimestamp: new Date('2024-01-01T00:00:00Z') },
      spec: { selector: { matchLabels: labels }, jwtRules: [{ issuer: 'testing@secure.istio.io', jwks: '{"keys":[]}' }] },
    }) as RequestAuthentication;
    const mesh = (...more: InputPart[]) => snapshotOf(
      deployment('weft-ingressgateway', 'weft-system', { labels: { istio: 'ingressgateway' }, ips: ['10.0.9.1'], podOptions: GATEWAY_POD }),
      { namespaces: [namespace('bookinfo', { 'weft-injection': 'enabled' })] },
      app('productpage', 'bookinfo', { port: 9080, versions: { v1: ['10.0.1.1'] } }),
      app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1'] } }),
      {
        config: {
          gateways: [gateway('public', 'bookinfo', gw)],
          requestAuthentications: [ra('weft-system', { istio: 'ingressgateway' }), ra('bookinfo', { app: 'reviews' })],
          virtualServices: [virtualService('front', 'bookinfo', {
            hosts: ['*'], gateways: ['public'],
            http: [
              { name: 'claim', match: [{ uri: { prefix: '/headers' }, headers: { '@request.auth.claims.groups': { exact: 'group1' } } }], route: [{ destination: { host: 'reviews' } }] },
              { name: 'rest', route: [{ destination: { host: 'productpage' } }] },
            ],
          })],
        },
      },
      ...more,
    );
    const jwtProviders = (pc: ReturnType<typeof translate>): Array<Record<string, unknown>> => {
      const out: Array<Record<string, unknown>> = [];
      for (const l of pc.listeners) {
        for (const fc of (l.filterChains as Array<Record<string, any>> | undefined) ?? []) {
          for (const f of fc.filters ?? []) {
            for (const h of f.typedConfig?.httpFilters ?? []) {
              if (h.name === 'envoy.filters.http.jwt_authn') out.push(...Object.values(h.typedConfig.providers as Record<string, Record<string, unknown>>));
            }
          }
        }
      }
      return out;
    };

    it('clears the route cache in the gateway\'s jwt_authn providers only, and routes by the claims metadata', () => {
      const s = mesh();
      const pc = translate(s.workload('weft-system', 'weft-ingressgateway')!, s);
      const providers = jwtProviders(pc);
      expect(providers).to.have.length(1);
      expect(providers[0]).to.include({ clearRouteCache: true, payloadInMetadata: 'testing@secure.istio.io' });
      const sidecar = translate(s.workload('bookinfo', 'reviews-v1')!, s);
      const mine = jwtProviders(sidecar);
      expect(mine).to.not.be.empty;
      for (const p of mine) expect(p).to.not.have.property('clearRouteCache');

      const req = { direction: 'outbound' as const, port: 80, host: 'bookinfo.example.com', path: '/headers' };
      const claimsOf = (groups: string[]) => ({ istio_authn: { 'request.auth.claims': { groups } } });
      const to = (metadata?: Record<string, Record<string, unknown>>) => {
        const r = simulate(pc, { ...req, ...(metadata ? { metadata } : {}) });
        return [r.route, r.action.kind === 'cluster' ? r.action.cluster : r.action.kind];
      };
      expect(to(claimsOf(['group1', 'group2']))).to.deep.equal(['claim', 'outbound|9080||reviews.bookinfo.svc.cluster.local']);
      expect(to(claimsOf(['group2']))).to.deep.equal(['rest', 'outbound|9080||productpage.bookinfo.svc.cluster.local']);
      expect(to()).to.deep.equal(['rest', 'outbound|9080||productpage.bookinfo.svc.cluster.local']);
    });

    it('writes the same matcher on a sidecar, where no authentication filter fills it: the claim route never matches', () => {
      const s = mesh({ config: { virtualServices: [virtualService('mesh-claims', 'bookinfo', {
        hosts: ['reviews'],
        http: [
          { name: 'claim', match: [{ headers: { '@request.auth.claims.groups': { exact: 'group1' } } }], route: [{ destination: { host: 'productpage' } }] },
          { name: 'rest', route: [{ destination: { host: 'reviews' } }] },
        ],
      })] } });
      const pc = translate(s.workload('bookinfo', 'productpage-v1')!, s);
      const r = simulate(pc, { direction: 'outbound', port: 9080, host: 'reviews', path: '/', destinationIp: s.servicesByHost('reviews.bookinfo.svc.cluster.local')[0]!.addresses[0]! });
      expect(r.route).to.equal('rest');
    });
  });
});
