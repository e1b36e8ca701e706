// simulate() and authorization: the connection manager's RBAC and ext_authz filters evaluated in order against a
// request description with the mTLS peer's SPIFFE id and the dynamic metadata the JWT stages would set — the same
// evaluators the sidecar runs.
import { expect } from 'chai';
import { simulate } from '../../src/proxy/routing/simulate.ts';
import type { RequestDescription } from '../../src/proxy/routing/types.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { HCM, ROUTER, listener, proxyConfig, routeConfig, toCluster, vhost } from '../support/envoy-objects.ts';

type O = Record<string, unknown>;
const T = 'type.googleapis.com/';
const rbac = (config: O): O => ({ name: 'envoy.filters.http.rbac', typedConfig: { '@type': `${T}envoy.extensions.filters.http.rbac.v3.RBAC`, ...config } });
const extAuthz: O = {
  name: 'envoy.filters.http.ext_authz',
  typedConfig: {
    '@type': `${T}envoy.extensions.filters.http.ext_authz.v3.ExtAuthz`,
    filterEnabledMetadata: { filter: 'envoy.filters.http.rbac', path: [{ key: 'istio_ext_authz_shadow_effective_policy_id' }], value: { stringMatch: { prefix: 'istio-ext-authz' } } },
  },
};
const router: O = { name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } };
const any = [{ any: true }];

function inbound(httpFilters: O[], hcmExtra: O = {}): ProxyConfig {
  const hcm = { name: 'envoy.filters.network.http_connection_manager', typedConfig: { '@type': HCM, statPrefix: 'inbound', rds: { routeConfigName: 'in' }, httpFilters, ...hcmExtra } };
  return proxyConfig({ listeners: [listener('virtualInbound', '0.0.0.0', 15006, [{ filters: [hcm] }])], routes: [routeConfig('in', [vhost('in', ['*'], [toCluster('app')])])] });
}

const req = (path: string, extra: Partial<RequestDescription> = {}): RequestDescription =>
  ({ direction: 'inbound', destinationIp: '10.0.0.7', port: 8080, host: 'app', path, method: 'GET', ...extra });

describe('proxy/routing: simulate() and authorization filters', () => {
  const claims = { metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.claims' }, { key: 'groups' }], value: { listMatch: { oneOf: { stringMatch: { exact: 'admins' } } } } } };
  const pc = inbound([
    rbac({ shadowRules: { action: 'ALLOW', policies: { 'istio-ext-authz-ns[a]-policy[ext]-rule[0]': { permissions: [{ urlPath: { path: { prefix: '/ext' } } }], principals: any } } }, shadowRulesStatPrefix: 'istio_ext_authz_' }),
    extAuthz,
    rbac({ rules: { action: 'DENY', policies: { 'ns[a]-policy[deny]-rule[0]': { permissions: [{ urlPath: { path: { prefix: '/admin' } } }], principals: [{ notId: claims }] } } } }),
    rbac({ rules: { action: 'LOG', policies: { 'ns[a]-policy[audit]-rule[0]': { permissions: [{ urlPath: { path: { prefix: '/audit' } } }], principals: any } } } }),
    rbac({
      rules: { action: 'ALLOW', policies: { 'ns[a]-policy[allow]-rule[0]': { permissions: any, principals: [{ authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/a/sa/web' } } }] } } },
      shadowRules: { action: 'ALLOW', policies: {} }, shadowRulesStatPrefix: 'istio_dry_run_allow_',
    }),
    router,
  ], { normalizePath: { value: true }, mergeSlashes: true, pathWithEscapedSlashesAction: 'UNESCAPE_AND_FORWARD' });
  const web = { peerPrincipal: 'spiffe://cluster.local/ns/a/sa/web' };

  it('allows the named peer and denies others, naming the filter and details', () => {
    const ok = simulate(pc, req('/x', web));
    expect(ok.action).to.include({ kind: 'cluster', cluster: 'app' });
    expect(ok.authz).to.deep.include({ decision: 'allowed' });
    expect(ok.authz!.shadow).to.deep.equal([
      { filter: 'envoy.filters.http.rbac', prefix: 'istio_ext_authz_', result: 'denied' },
      { filter: 'envoy.filters.http.rbac', prefix: 'istio_dry_run_allow_', result: 'denied' },
    ]);
    expect(ok.authz!.extAuthz).to.equal(undefined);
    expect(simulate(pc, req('/x')).authz).to.deep.include({ decision: 'denied', filter: 'envoy.filters.http.rbac', details: 'rbac_access_denied_matched_policy[none]' });
  });

  it('uses the dynamic metadata the JWT stages would set, and the normalized path', () => {
    const admins = { metadata: { istio_authn: { 'request.auth.claims': { groups: ['admins'] } } } };
    expect(simulate(pc, req('/admin', web)).authz).to.deep.include({ decision: 'denied', policy: 'ns[a]-policy[deny]-rule[0]' });
    expect(simulate(pc, req('/a/..//%2Fadmin', web)).authz).to.deep.include({ decision: 'denied', policy: 'ns[a]-policy[deny]-rule[0]' });
    expect(simulate(pc, req('/admin', { ...web, ...admins })).authz).to.deep.include({ decision: 'allowed' });
  });

  it('reports audits and whether ext_authz would be asked', () => {
    expect(simulate(pc, req('/audit', web)).authz).to.deep.include({ decision: 'allowed', audit: true, auditPolicies: ['ns[a]-policy[audit]-rule[0]'] });
    const ext = simulate(pc, req('/ext/1', web)).authz!;
    expect(ext.extAuthz).to.equal('checked');
    expect(ext.shadow![0]).to.deep.equal({ filter: 'envoy.filters.http.rbac', prefix: 'istio_ext_authz_', result: 'allowed', policy: 'istio-ext-authz-ns[a]-policy[ext]-rule[0]' });
  });

  it('evaluates network RBAC filters in front of the connection manager first', () => {
    const guarded = inbound([router]);
    const chain = (guarded.listeners[0]!.filterChains as Array<{ filters: O[] }>)[0]!;
    chain.filters.unshift({ name: 'envoy.filters.network.rbac', typedConfig: { '@type': `${T}envoy.extensions.filters.network.rbac.v3.RBAC`, rules: { action: 'DENY', policies: { local: { permissions: any, principals: [{ directRemoteIp: { addressPrefix: '10.9.0.0', prefixLen: 16 } }] } } } } });
    expect(simulate(guarded, req('/x', { sourceIp: '10.9.1.1' })).authz).to.deep.include({ decision: 'denied', filter: 'envoy.filters.network.rbac', policy: 'local' });
    expect(simulate(guarded, req('/x', { sourceIp: '10.8.1.1' })).authz).to.deep.equal({ decision: 'allowed' });
  });

  it('has no authz without authorization filters, nor for requests the connection manager rejects first', () => {
    expect(simulate(inbound([router]), req('/x')).authz).to.equal(undefined);
    const rejected = simulate(pc, req('/x#frag', web));
    expect(rejected.action).to.deep.equal({ kind: 'direct', status: 400, body: 'Bad Request' });
    expect(rejected.authz).to.equal(undefined);
    expect(rejected).to.not.have.property('beforeFilters');
  });
});
