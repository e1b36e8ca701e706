import { expect } from 'chai';
import { globalReplace, compileRegex } from '../../src/proxy/routing/regex.ts';
import { simulate } from '../../src/proxy/routing/simulate.ts';
import type { Action, ClusterAction, RequestDescription } from '../../src/proxy/routing/types.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import {
  CORS_POLICY, FAULT, edsCluster, hcm, httpProxy, listener, proxyConfig, routeConfig, toCluster, vhost,
} from '../support/envoy-objects.ts';

const get = (host: string, path = '/', extra: Partial<RequestDescription> = {}): RequestDescription =>
  ({ direction: 'outbound', port: 80, host, path, method: 'GET', ...extra });

function clusterOf(pc: ProxyConfig, req: RequestDescription): string | undefined {
  const a = simulate(pc, req, { random: () => 0 }).action;
  return a.kind === 'cluster' ? a.cluster : undefined;
}

function action(pc: ProxyConfig, req: RequestDescription, random = 0): Action {
  return simulate(pc, req, { random: () => random }).action;
}

function forwarded(pc: ProxyConfig, req: RequestDescription, random = 0): ClusterAction {
  const a = action(pc, req, random);
  if (a.kind !== 'cluster') throw new Error(`expected a cluster action, got ${JSON.stringify(a)}`);
  return a;
}

describe('proxy/routing: virtual host selection', () => {
  const pc = httpProxy(80, routeConfig('80', [
    vhost('exact', ['www.foo.com', 'www.foo.com:80'], [toCluster('exact')]),
    vhost('suffix-long', ['*-bar.foo.com'], [toCluster('suffix-long')]),
    vhost('suffix', ['*.foo.com'], [toCluster('suffix')]),
    vhost('prefix', ['foo.*'], [toCluster('prefix')]),
    vhost('prefix-long', ['foo.bar.*'], [toCluster('prefix-long')]),
    vhost('any', ['*'], [toCluster('any')]),
  ]));

  it('prefers exact domains, then suffix wildcards longest first, then prefix wildcards, then *', () => {
    expect(clusterOf(pc, get('www.foo.com'))).to.equal('exact');
    expect(clusterOf(pc, get('baz-bar.foo.com'))).to.equal('suffix-long');
    expect(clusterOf(pc, get('a.b.foo.com'))).to.equal('suffix');
    expect(clusterOf(pc, get('foo.bar.com'))).to.equal('prefix-long');
    expect(clusterOf(pc, get('foo.org'))).to.equal('prefix');
    expect(clusterOf(pc, get('other.org'))).to.equal('any');
  });

  it('matches the host with its port as written, and case-insensitively', () => {
    expect(clusterOf(pc, get('WWW.Foo.com:80'))).to.equal('exact');
    // `*.foo.com` does not take `www.foo.com:8080`: domains are compared with the port.
    expect(clusterOf(pc, get('www.foo.com:8080'))).to.equal('any');
  });

  it('does not let a wildcard match the empty string', () => {
    expect(clusterOf(pc, get('-bar.foo.com'))).to.equal('suffix');
    expect(clusterOf(pc, get('.foo.com'))).to.equal('any');
  });

  it('ignores the port when the route configuration says so', () => {
    const p = httpProxy(80, routeConfig('80', [vhost('a', ['a.com'], [toCluster('a')])], { ignorePortInHostMatching: true }));
    expect(clusterOf(p, get('a.com:1234'))).to.equal('a');
    expect(action(httpProxy(80, routeConfig('80', [vhost('a', ['a.com'], [toCluster('a')])])), get('a.com:1234'))).to.deep.equal({ kind: 'no-route' });
  });

  it('answers no-route when no virtual host takes the host', () => {
    const p = httpProxy(80, routeConfig('80', [vhost('a', ['a.com'], [toCluster('a')])]));
    const r = simulate(p, get('b.com'));
    expect(r.action).to.deep.equal({ kind: 'no-route' });
    expect(r.virtualHost).to.equal(undefined);
  });
});

describe('proxy/routing: route matching', () => {
  const one = (routes: Record<string, unknown>[]) => httpProxy(80, routeConfig('80', [vhost('v', ['*'], routes)]));

  it('takes the first route that matches', () => {
    const p = one([toCluster('api', { prefix: '/api' }), toCluster('api-v1', { prefix: '/api/v1' }), toCluster('rest', { prefix: '/' })]);
    expect(clusterOf(p, get('x', '/api/v1/x'))).to.equal('api');
    expect(clusterOf(p, get('x', '/other'))).to.equal('rest');
  });

  it('matches prefix, exact path and path-separated prefix on the path without the query string', () => {
    const p = one([
      toCluster('exact', { path: '/exact' }),
      toCluster('sep', { pathSeparatedPrefix: '/sep' }),
      toCluster('rest', { prefix: '/' }),
    ]);
    expect(clusterOf(p, get('x', '/exact?a=b'))).to.equal('exact');
    expect(clusterOf(p, get('x', '/exact/'))).to.equal('rest');
    expect(clusterOf(p, get('x', '/sep'))).to.equal('sep');
    expect(clusterOf(p, get('x', '/sep/a'))).to.equal('sep');
    expect(clusterOf(p, get('x', '/sep?x'))).to.equal('sep');
    expect(clusterOf(p, get('x', '/separate'))).to.equal('rest');
  });

  it('requires safe_regex to match the whole path (RE2 syntax)', () => {
    const p = one([toCluster('re', { safeRegex: { regex: '/v[0-9]+/items' } }), toCluster('rest', { prefix: '/' })]);
    expect(clusterOf(p, get('x', '/v12/items?x=1'))).to.equal('re');
    expect(clusterOf(p, get('x', '/v12/items/1'))).to.equal('rest');
    expect(clusterOf(p, get('x', '/a/v12/items'))).to.equal('rest');
  });

  it('folds ASCII case when case_sensitive is false, but not for regexes', () => {
    const p = one([
      toCluster('ci', { prefix: '/Api', caseSensitive: { value: false } }),
      toCluster('re', { safeRegex: { regex: '/abc' }, caseSensitive: { value: false } }),
      toCluster('rest', { prefix: '/' }),
    ]);
    expect(clusterOf(p, get('x', '/aPI/x'))).to.equal('ci');
    expect(clusterOf(p, get('x', '/ABC'))).to.equal('rest');
  });

  describe('headers', () => {
    const h = (matcher: Record<string, unknown>) => one([toCluster('hit', { prefix: '/', headers: [matcher] }), toCluster('miss', { prefix: '/' })]);
    const withHeaders = (headers: Record<string, string | string[]>) => get('x', '/', { headers });

    it('string_match, presence and range', () => {
      expect(clusterOf(h({ name: 'X-User', stringMatch: { exact: 'jason' } }), withHeaders({ 'x-user': 'jason' }))).to.equal('hit');
      expect(clusterOf(h({ name: 'x-user', stringMatch: { exact: 'jason' } }), withHeaders({ 'x-user': 'Jason' }))).to.equal('miss');
      expect(clusterOf(h({ name: 'x-user', stringMatch: { exact: 'jason', ignoreCase: true } }), withHeaders({ 'x-user': 'Jason' }))).to.equal('hit');
      expect(clusterOf(h({ name: 'x-user', stringMatch: { safeRegex: { regex: 'j.*n' } } }), withHeaders({ 'x-user': 'jason' }))).to.equal('hit');
      expect(clusterOf(h({ name: 'x-user', presentMatch: true }), withHeaders({}))).to.equal('miss');
      expect(clusterOf(h({ name: 'x-user', presentMatch: true }), withHeaders({ 'x-user': '' }))).to.equal('hit');
      expect(clusterOf(h({ name: 'x-user', presentMatch: false }), withHeaders({}))).to.equal('hit');
      expect(clusterOf(h({ name: 'x-n', rangeMatch: { start: 10, end: 20 } }), withHeaders({ 'x-n': '19' }))).to.equal('hit');
      expect(clusterOf(h({ name: 'x-n', rangeMatch: { start: 10, end: 20 } }), withHeaders({ 'x-n': '20' }))).to.equal('miss');
    });

    it('joins repeated headers with a comma before matching', () => {
      expect(clusterOf(h({ name: 'x-a', stringMatch: { exact: 'b,c' } }), withHeaders({ 'x-a': ['b', 'c'] }))).to.equal('hit');
    });

    it('matches pseudo-headers :authority, :method, :scheme', () => {
      expect(clusterOf(h({ name: ':method', stringMatch: { exact: 'POST' } }), get('x', '/', { method: 'POST' }))).to.equal('hit');
      expect(clusterOf(h({ name: ':authority', stringMatch: { prefix: 'api.' } }), get('api.x', '/'))).to.equal('hit');
      expect(clusterOf(h({ name: ':scheme', stringMatch: { exact: 'http' } }), get('x', '/'))).to.equal('hit');
    });

    it('invert_match does not match a missing header unless it is treated as empty', () => {
      const inverted = { name: 'x-user', stringMatch: { exact: 'jason' }, invertMatch: true };
      expect(clusterOf(h(inverted), withHeaders({ 'x-user': 'bob' }))).to.equal('hit');
      expect(clusterOf(h(inverted), withHeaders({ 'x-user': 'jason' }))).to.equal('miss');
      expect(clusterOf(h(inverted), withHeaders({}))).to.equal('miss');
      expect(clusterOf(h({ ...inverted, treatMissingHeaderAsEmpty: true }), withHeaders({}))).to.equal('hit');
      expect(clusterOf(h({ name: 'x-user', presentMatch: true, invertMatch: true }), withHeaders({}))).to.equal('hit');
    });
  });

  it('matches query parameters (first value, not decoded)', () => {
    const p = one([
      toCluster('q', { prefix: '/', queryParameters: [{ name: 'v', stringMatch: { exact: 'a b' } }] }),
      toCluster('present', { prefix: '/', queryParameters: [{ name: 'p', presentMatch: true }] }),
      toCluster('rest', { prefix: '/' }),
    ]);
    expect(clusterOf(p, get('x', '/?v=a b'))).to.equal('q');
    expect(clusterOf(p, get('x', '/?v=a%20b'))).to.equal('rest');
    expect(clusterOf(p, get('x', '/?v=x&v=a b'))).to.equal('rest');
    expect(clusterOf(p, get('x', '/?p'))).to.equal('present');
  });
});

describe('proxy/routing: path rewrites', () => {
  const rewrite = (match: Record<string, unknown>, route: Record<string, unknown>) =>
    httpProxy(80, routeConfig('80', [vhost('v', ['*'], [{ match, route: { cluster: 'c', ...route } }])]));

  it('replaces the matched prefix, keeping the rest and the query string', () => {
    expect(forwarded(rewrite({ prefix: '/api' }, { prefixRewrite: '/v2' }), get('x', '/api/users?id=1')).rewrittenPath).to.equal('/v2/users?id=1');
    // A rewrite to "/" of "/api" keeps the following slash: Envoy's documented double-slash pitfall.
    expect(forwarded(rewrite({ prefix: '/api' }, { prefixRewrite: '/' }), get('x', '/api/users')).rewrittenPath).to.equal('//users');
    expect(forwarded(rewrite({ prefix: '/api/' }, { prefixRewrite: '/' }), get('x', '/api/users')).rewrittenPath).to.equal('/users');
    expect(forwarded(rewrite({ prefix: '/api' }, { prefixRewrite: '/' }), get('x', '/apix')).rewrittenPath).to.equal('/x');
  });

  it('replaces as many characters as the configured prefix when matching case-insensitively', () => {
    const a = forwarded(rewrite({ prefix: '/API', caseSensitive: { value: false } }, { prefixRewrite: '/v1' }), get('x', '/api/a'));
    expect(a.rewrittenPath).to.equal('/v1/a');
  });

  it('with an exact path or a regex match, replaces the path (query kept)', () => {
    expect(forwarded(rewrite({ path: '/old' }, { prefixRewrite: '/new' }), get('x', '/old?q')).rewrittenPath).to.equal('/new?q');
    expect(forwarded(rewrite({ safeRegex: { regex: '/o.d' } }, { prefixRewrite: '/new' }), get('x', '/old?q')).rewrittenPath).to.equal('/new?q');
  });

  it('regex_rewrite substitutes groups over the whole path and keeps the query', () => {
    const a = forwarded(rewrite({ prefix: '/' }, { regexRewrite: { pattern: { regex: '^/service/([^/]+)(/.*)$' }, substitution: '\\2/instance/\\1' } }), get('x', '/service/foo/v1/api?x=1'));
    expect(a.rewrittenPath).to.equal('/v1/api/instance/foo?x=1');
    const all = forwarded(rewrite({ prefix: '/' }, { regexRewrite: { pattern: { regex: 'one' }, substitution: 'two' } }), get('x', '/xxx/one/yyy/one/zzz'));
    expect(all.rewrittenPath).to.equal('/xxx/two/yyy/two/zzz');
  });

  it('global replace follows RE2 for empty matches and escapes', () => {
    expect(globalReplace(compileRegex('b*'), 'ababababab', 'bb')).to.equal('bbabbabbabbabbabb');
    expect(globalReplace(compileRegex(''), 'abc', '-')).to.equal('-a-b-c-');
    expect(globalReplace(compileRegex('a*'), 'baaac', '-')).to.equal('-b-c-');
    expect(globalReplace(compileRegex('(a)(b)?'), 'ac', '[\\1\\2\\\\]')).to.equal('[a\\]c');
    expect(globalReplace(compileRegex('x'), 'abc', 'y')).to.equal('abc');
    expect(() => compileRegex('a(?=b)')).to.throw();
  });

  it('rewrites the host from a literal and marks auto host rewrite', () => {
    const a = forwarded(rewrite({ prefix: '/' }, { hostRewriteLiteral: 'new.host' }), get('old.host'));
    expect(a.rewrittenHost).to.equal('new.host');
    expect(a.upstreamHeaders?.[':authority']).to.equal('new.host');
    expect(forwarded(rewrite({ prefix: '/' }, { autoHostRewrite: { value: true } }), get('x')).autoHostRewrite).to.equal(true);
  });
});

describe('proxy/routing: redirects and direct responses', () => {
  const redirect = (redirectAction: Record<string, unknown>, match: Record<string, unknown> = { prefix: '/' }) =>
    httpProxy(80, routeConfig('80', [vhost('v', ['*'], [{ match, redirect: redirectAction }])]));

  it('builds Location from scheme, host, port and path with Envoy rules', () => {
    expect(action(redirect({ httpsRedirect: true }), get('a.com:80', '/x?y'))).to.deep.equal({ kind: 'redirect', location: 'https://a.com/x?y', status: 301 });
    expect(action(redirect({ httpsRedirect: true }), get('a.com:8080', '/x'))).to.deep.equal({ kind: 'redirect', location: 'https://a.com:8080/x', status: 301 });
    expect(action(redirect({ hostRedirect: 'b.com', portRedirect: 8443, schemeRedirect: 'https', responseCode: 'PERMANENT_REDIRECT' }), get('a.com', '/x')))
      .to.deep.equal({ kind: 'redirect', location: 'https://b.com:8443/x', status: 308 });
    expect(action(redirect({ portRedirect: 9090 }), get('a.com:80', '/'))).to.deep.equal({ kind: 'redirect', location: 'http://a.com:9090/', status: 301 });
  });

  it('keeps the query with path_redirect unless it has its own or strip_query is set', () => {
    expect(action(redirect({ pathRedirect: '/new' }), get('a.com', '/old?q=1'))).to.deep.include({ location: 'http://a.com/new?q=1' });
    expect(action(redirect({ pathRedirect: '/new?z=2' }), get('a.com', '/old?q=1'))).to.deep.include({ location: 'http://a.com/new?z=2' });
    expect(action(redirect({ pathRedirect: '/new', stripQuery: true }), get('a.com', '/old?q=1'))).to.deep.include({ location: 'http://a.com/new' });
    expect(action(redirect({ pathRedirect: 'rel' }), get('a.com', '/old'))).to.deep.include({ location: 'http://a.com/rel' });
  });

  it('applies the redirect prefix_rewrite / regex_rewrite to the path first', () => {
    expect(action(redirect({ prefixRewrite: '/v2' }, { prefix: '/v1' }), get('a.com', '/v1/x?q'))).to.deep.include({ location: 'http://a.com/v2/x?q' });
    expect(action(redirect({ regexRewrite: { pattern: { regex: '^/(.*)/(.*)$' }, substitution: '/\\2/\\1' }, responseCode: 'FOUND' }), get('a.com', '/a/b?q')))
      .to.deep.equal({ kind: 'redirect', location: 'http://a.com/b/a?q', status: 302 });
  });

  it('answers direct responses with their status and body', () => {
    const p = httpProxy(80, routeConfig('80', [vhost('v', ['*'], [{ match: { prefix: '/' }, directResponse: { status: 418, body: { inlineString: 'teapot' } } }])]));
    expect(action(p, get('a'))).to.deep.equal({ kind: 'direct', status: 418, body: 'teapot' });
  });

  it('redirects to https when the virtual host requires TLS', () => {
    const p = httpProxy(80, routeConfig('80', [vhost('v', ['*'], [toCluster('c')], { requireTls: 'ALL' })]));
    expect(action(p, get('a.com', '/x'))).to.deep.equal({ kind: 'redirect', location: 'https://a.com/x', status: 301 });
  });
});

describe('proxy/routing: route policies', () => {
  it('picks weighted clusters with the injected random value', () => {
    const p = httpProxy(80, routeConfig('80', [vhost('v', ['*'], [{
      match: { prefix: '/' },
      route: { weightedClusters: { clusters: [{ name: 'v1', weight: { value: 25 } }, { name: 'v2', weight: { value: 75 } }, { name: 'v3', weight: { value: 0 } }] } },
    }])]));
    expect(forwarded(p, get('x'), 0).cluster).to.equal('v1');
    expect(forwarded(p, get('x'), 0.2499).cluster).to.equal('v1');
    expect(forwarded(p, get('x'), 0.25).cluster).to.equal('v2');
    expect(forwarded(p, get('x'), 0.9999).cluster).to.equal('v2');
    expect(forwarded(p, get('x')).weightedClusters).to.deep.equal([{ name: 'v1', weight: 25 }, { name: 'v2', weight: 75 }, { name: 'v3', weight: 0 }]);
  });

  it("reports Envoy's 15 s default timeout, 0 as no timeout, and the retry policy (route before virtual host)", () => {
    const p = httpProxy(80, routeConfig('80', [vhost('v', ['*'], [
      toCluster('a', { prefix: '/a' }),
      { match: { prefix: '/b' }, route: { cluster: 'b', timeout: { seconds: 0 }, retryPolicy: { retryOn: '5xx,reset', numRetries: { value: 3 }, perTryTimeout: { seconds: 2 }, retriableStatusCodes: [503] } } },
    ], { retryPolicy: { retryOn: 'connect-failure' } })]));
    const a = forwarded(p, get('x', '/a'));
    expect(a.timeoutMs).to.equal(15000);
    expect(a.retry).to.deep.equal({ numRetries: 1, retryOn: ['connect-failure'] });
    const b = forwarded(p, get('x', '/b'));
    expect(b.timeoutMs).to.equal(0);
    expect(b.retry).to.deep.equal({ numRetries: 3, retryOn: ['5xx', 'reset'], perTryTimeoutMs: 2000, retriableStatusCodes: [503] });
  });

  it('reports mirrors (100 % without a runtime fraction) and hash policies', () => {
    const p = httpProxy(80, routeConfig('80', [vhost('v', ['*'], [{
      match: { prefix: '/' },
      route: {
        cluster: 'c',
        requestMirrorPolicies: [{ cluster: 'm1' }, { cluster: 'm2', runtimeFraction: { defaultValue: { numerator: 2500, denominator: 'TEN_THOUSAND' } } }],
        hashPolicy: [{ header: { headerName: 'x-user' } }],
      },
    }])]));
    const a = forwarded(p, get('x'));
    expect(a.mirrors).to.deep.equal([{ cluster: 'm1', percent: 100 }, { cluster: 'm2', percent: 25 }]);
    expect(a.hashPolicy).to.deep.equal([{ header: { headerName: 'x-user' } }]);
  });

  it('applies header mutations route → virtual host → route configuration (the later wins)', () => {
    const set = (key: string, value: string) => ({ header: { key, value }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' });
    const p = httpProxy(80, routeConfig('80', [vhost('v', ['*'], [{
      match: { prefix: '/' },
      route: { cluster: 'c' },
      requestHeadersToAdd: [set('x-level', 'route'), { header: { key: 'x-add', value: 'r' } }],
      requestHeadersToRemove: ['x-drop'],
    }], { requestHeadersToAdd: [set('x-level', 'vhost'), { header: { key: 'x-add', value: 'v' }, append: { value: true } }] })], {
      requestHeadersToAdd: [{ header: { key: 'x-if-absent', value: 'g' }, appendAction: 'ADD_IF_ABSENT' }],
    }));
    const a = forwarded(p, get('x', '/', { headers: { 'x-drop': '1', 'x-add': 'client', 'x-if-absent': 'client' } }));
    expect(a.upstreamHeaders).to.deep.equal({ ':authority': 'x', ':path': '/', 'x-add': 'client,r,v', 'x-if-absent': 'client', 'x-level': 'vhost' });
    expect(a.requestHeaderOps?.[0]).to.deep.equal({ op: 'remove', name: 'x-drop' });
  });

  it('applies a weighted cluster entry\'s headers and host rewrite before the route\'s', () => {
    const p = httpProxy(80, routeConfig('80', [vhost('v', ['*'], [{
      match: { prefix: '/' },
      route: { weightedClusters: { clusters: [{ name: 'c', weight: { value: 1 }, hostRewriteLiteral: 'entry', requestHeadersToAdd: [{ header: { key: 'x-e', value: '1' } }] }] } },
    }])]));
    const a = forwarded(p, get('x'));
    expect(a.rewrittenHost).to.equal('entry');
    expect(a.upstreamHeaders?.['x-e']).to.equal('1');
  });

  it('reports faults from the most specific per-filter config, only when the fault filter is in the chain', () => {
    const fault = { '@type': FAULT, abort: { httpStatus: 503, percentage: { numerator: 10, denominator: 'HUNDRED' } }, delay: { fixedDelay: { seconds: 1, nanos: 500000000 }, percentage: { numerator: 100 } } };
    const rc = routeConfig('80', [vhost('v', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'c' }, typedPerFilterConfig: { 'envoy.filters.http.fault': fault } }])]);
    const a = forwarded(httpProxy(80, rc), get('x'));
    expect(a.fault).to.deep.equal({ delay: { fixedDelayMs: 1500, percent: 100 }, abort: { httpStatus: 503, percent: 10 } });
    const noFilter = proxyConfig({ listeners: [listener('0.0.0.0_80', '0.0.0.0', 80, [{ filters: [hcm('80', { httpFilters: [] })] }])], routes: [rc] });
    const b = forwarded(noFilter, get('x'));
    expect(b.fault).to.equal(undefined);
    expect(b.ignoredFilterConfigs).to.deep.equal(['envoy.filters.http.fault']);
  });

  it('treats an unset fault percentage as 0 % (FractionalPercent default)', () => {
    const fault = { '@type': FAULT, abort: { httpStatus: 500 } };
    const rc = routeConfig('80', [vhost('v', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'c' }, typedPerFilterConfig: { 'envoy.filters.http.fault': fault } }])]);
    expect(forwarded(httpProxy(80, rc), get('x')).fault).to.deep.equal({ abort: { httpStatus: 500, percent: 0 } });
  });

  it('reports the CORS policy from the per-filter config', () => {
    const cors = { '@type': CORS_POLICY, allowOriginStringMatch: [{ exact: 'https://a.com' }], allowMethods: 'GET,POST' };
    const rc = routeConfig('80', [vhost('v', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'c' } }], { typedPerFilterConfig: { 'envoy.filters.http.cors': cors } })]);
    expect(forwarded(httpProxy(80, rc), get('x')).cors).to.deep.equal({ allowOriginStringMatch: [{ exact: 'https://a.com' }], allowMethods: 'GET,POST' });
  });

  it('says when the routed cluster does not exist (503 NC in Envoy)', () => {
    const p = httpProxy(80, routeConfig('80', [vhost('v', ['*'], [toCluster('missing')])]), [edsCluster('other')]);
    expect(forwarded(p, get('x')).upstream).to.deep.equal({ name: 'missing', found: false, endpoints: [], excluded: [] });
  });
});
