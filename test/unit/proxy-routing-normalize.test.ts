// The connection manager's path handling before routing and filters: normalize_path (Envoy's Chromium-based
// canonicalisation), merge_slashes, path_with_escaped_slashes_action — what the route and RBAC rules see.
import { expect } from 'chai';
import { canonicalPath, escapedSlashesAction, mergePathSlashes, unescapeSlashes } from '../../src/proxy/routing/request.ts';
import { simulate } from '../../src/proxy/routing/simulate.ts';
import { HCM, ROUTER, listener, proxyConfig, routeConfig, vhost } from '../support/envoy-objects.ts';

type O = Record<string, unknown>;

function pc(hcmExtra: O) {
  const hcm = { name: 'envoy.filters.network.http_connection_manager', typedConfig: { '@type': HCM, rds: { routeConfigName: 'r' }, httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } }], ...hcmExtra } };
  const rc = routeConfig('r', [vhost('v', ['*'], [
    { name: 'admin', match: { path: '/admin' }, route: { cluster: 'admin' } },
    { name: 'rest', match: { prefix: '/' }, route: { cluster: 'rest' } },
  ])]);
  return proxyConfig({ listeners: [listener('l', '0.0.0.0', 80, [{ filters: [hcm] }])], routes: [rc] });
}

describe('proxy/routing: path normalization', () => {
  it('canonicalizes as Envoy\'s normalize_path: dot segments, unreserved escapes, backslashes, upper-case hex', () => {
    const cases: Array<[string, string]> = [
      ['/a/../admin', '/admin'], ['/admin/.', '/admin/'], ['/./admin', '/admin'], ['/a/b/../../admin', '/admin'],
      ['/../../admin', '/admin'], ['/%61dmin', '/admin'], ['/%2e%2e/admin', '/admin'], ['/a/%2E%2E/admin', '/admin'],
      ['/%7Euser', '/~user'], ['/a%2fb', '/a%2Fb'], ['/a%5cb', '/a%5Cb'], ['/a\\..\\admin', '/admin'],
      ['/ADMIN', '/ADMIN'], ['/admin?x=/../y', '/admin?x=/../y'], ['/a%zz', '/a%zz'], ['/a b', '/a%20b'],
      ['//admin', '//admin'], ['/caf\u00e9', '/caf%E9'], ['/plain/path', '/plain/path'],
    ];
    for (const [input, want] of cases) expect([input, canonicalPath(input)]).to.deep.equal([input, want]);
    expect(canonicalPath('/a%00b')).to.equal(undefined);
  });

  it('merges slashes, unescapes slashes and reads the action enum', () => {
    expect(mergePathSlashes('//a///b?x=//y')).to.equal('/a/b?x=//y');
    expect(unescapeSlashes('/a%2Fb%5cc?q=%2F')).to.equal('/a/b\\c?q=%2F');
    expect(unescapeSlashes('/abc')).to.equal(undefined);
    expect(['REJECT_REQUEST', 3, 'IMPLEMENTATION_SPECIFIC_DEFAULT', undefined, 4].map(escapedSlashesAction)).to.deep.equal([
      'REJECT_REQUEST', 'UNESCAPE_AND_REDIRECT', 'KEEP_UNCHANGED', 'KEEP_UNCHANGED', 'UNESCAPE_AND_FORWARD',
    ]);
  });

  it('routes what the connection manager made of the path (Istio\'s DECODE_AND_MERGE_SLASHES)', () => {
    const p = pc({ normalizePath: { value: true }, mergeSlashes: true, pathWithEscapedSlashesAction: 'UNESCAPE_AND_FORWARD' });
    const at = (path: string) => simulate(p, { direction: 'outbound', port: 80, host: 'h', path }, { random: () => 0 });
    for (const path of ['/admin', '//admin', '/a/../admin', '/%2Fadmin', '/%61dmin', '/x/..%2F/admin', '/%5Cadmin']) {
      expect([path, at(path).route]).to.deep.equal([path, 'admin']);
    }
    expect(at('/ADMIN').route).to.equal('rest');
    expect(at('/admin#x').action).to.deep.equal({ kind: 'direct', status: 400, body: 'Bad Request' });
    const off = pc({});
    expect(simulate(off, { direction: 'outbound', port: 80, host: 'h', path: '/a/../admin' }).route).to.equal('rest');
  });
});
