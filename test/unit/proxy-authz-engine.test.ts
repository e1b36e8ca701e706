import { expect } from 'chai';
import type { AuthzAttributes } from '../../src/proxy/authz/attributes.ts';
import { httpAttributes, trustedRemoteIp } from '../../src/proxy/authz/attributes.ts';
import { addressBytes, compileCidr } from '../../src/proxy/authz/cidr.ts';
import { compileMetadataMatcher } from '../../src/proxy/authz/metadata.ts';
import { compileRbac } from '../../src/proxy/authz/rbac-engine.ts';
import { checkRbacFilter, compileRbacFilter } from '../../src/proxy/authz/rbac-filter.ts';
import { makeHttpRequest } from '../../src/proxy/routing/request.ts';

type O = Record<string, unknown>;

const req = (path = '/', headers: Record<string, string> = {}, method = 'GET') =>
  makeHttpRequest({ method, path, host: 'svc.ns.svc.cluster.local', headers });

const attrs = (over: Partial<AuthzAttributes> = {}): AuthzAttributes => ({
  request: req(), directRemoteIp: '10.0.0.5', remoteIp: '10.0.0.5', destinationIp: '10.0.1.7', destinationPort: 8080, ...over,
});

/** One ALLOW policy named p with these permissions and principals. */
const allow = (permissions: O[], principals: O[] = [{ any: true }]) => compileRbac({ action: 'ALLOW', policies: { p: { permissions, principals } } });
const permits = (permission: O, a: AuthzAttributes) => allow([permission]).evaluate(a).allowed;
const admits = (principal: O, a: AuthzAttributes) => allow([{ any: true }], [principal]).evaluate(a).allowed;

describe('proxy/authz: RBAC engine', () => {
  it('ALLOW allows only what a policy matches, DENY denies it, LOG allows and marks it; the first policy by name wins', () => {
    const policies = {
      'ns[a]-policy[z]-rule[0]': { permissions: [{ urlPath: { path: { prefix: '/admin' } } }], principals: [{ any: true }] },
      'ns[a]-policy[b]-rule[0]': { permissions: [{ urlPath: { path: { exact: '/admin/x' } } }], principals: [{ any: true }] },
    };
    const admin = attrs({ request: req('/admin/x?q=1') });
    const other = attrs({ request: req('/public') });
    const a = compileRbac({ action: 'ALLOW', policies });
    expect(a.policies).to.deep.equal(['ns[a]-policy[b]-rule[0]', 'ns[a]-policy[z]-rule[0]']);
    expect(a.evaluate(admin)).to.deep.equal({ allowed: true, policy: 'ns[a]-policy[b]-rule[0]' });
    expect(a.evaluate(other)).to.deep.equal({ allowed: false });
    const d = compileRbac({ action: 'DENY', policies });
    expect(d.evaluate(admin)).to.deep.equal({ allowed: false, policy: 'ns[a]-policy[b]-rule[0]' });
    expect(d.evaluate(other)).to.deep.equal({ allowed: true });
    const l = compileRbac({ action: 'LOG', policies });
    expect(l.evaluate(admin)).to.deep.equal({ allowed: true, policy: 'ns[a]-policy[b]-rule[0]', logged: true });
    expect(l.evaluate(other)).to.deep.equal({ allowed: true, logged: false });
    // Enum numbers as protobuf gives them without enums: String; no action = ALLOW.
    expect(compileRbac({ action: 1, policies }).action).to.equal('DENY');
    expect(compileRbac({ policies }).action).to.equal('ALLOW');
  });

  it('an ALLOW RBAC without policies denies everything; a policy needs a permission and a principal', () => {
    expect(compileRbac({ action: 'ALLOW' }).evaluate(attrs()).allowed).to.equal(false);
    expect(compileRbac({ action: 'ALLOW', policies: { p: { permissions: [{ any: true }] } } }).evaluate(attrs()).allowed).to.equal(false);
    expect(compileRbac({ action: 'DENY' }).evaluate(attrs()).allowed).to.equal(true);
  });

  it('permissions: header, urlPath (no query), ports, port ranges, destination CIDR, SNI, metadata', () => {
    expect(permits({ header: { name: ':method', stringMatch: { exact: 'GET' } } }, attrs())).to.equal(true);
    expect(permits({ header: { name: ':method', stringMatch: { exact: 'POST' } } }, attrs())).to.equal(false);
    expect(permits({ header: { name: 'x-token', presentMatch: true } }, attrs({ request: req('/', { 'x-token': 'a' }) }))).to.equal(true);
    expect(permits({ header: { name: 'x-token', presentMatch: true } }, attrs())).to.equal(false);
    expect(permits({ header: { name: ':authority', stringMatch: { suffix: '.cluster.local' } } }, attrs())).to.equal(true);
    expect(permits({ urlPath: { path: { exact: '/a' } } }, attrs({ request: req('/a?x=1') }))).to.equal(true);
    expect(permits({ urlPath: { path: { exact: '/A', ignoreCase: true } } }, attrs({ request: req('/a') }))).to.equal(true);
    expect(permits({ urlPath: { path: { safeRegex: { regex: '/v[0-9]+/.*' } } } }, attrs({ request: req('/v2/x') }))).to.equal(true);
    expect(permits({ urlPath: { path: { contains: 'secret' } } }, attrs({ request: req('/x/secret/y') }))).to.equal(true);
    expect(permits({ destinationPort: 8080 }, attrs())).to.equal(true);
    expect(permits({ destinationPort: 9090 }, attrs())).to.equal(false);
    expect(permits({ destinationPortRange: { start: 8000, end: 8080 } }, attrs())).to.equal(false);
    expect(permits({ destinationPortRange: { start: 8000, end: 8081 } }, attrs())).to.equal(true);
    expect(permits({ destinationIp: { addressPrefix: '10.0.1.0', prefixLen: 24 } }, attrs())).to.equal(true);
    expect(permits({ destinationIp: { addressPrefix: '10.0.2.0', prefixLen: 24 } }, attrs())).to.equal(false);
    expect(permits({ requestedServerName: { exact: 'api.example.com' } }, attrs({ sni: 'api.example.com' }))).to.equal(true);
    expect(permits({ requestedServerName: { exact: 'api.example.com' } }, attrs())).to.equal(false);
    const md = new Map([['istio_authn', { 'request.auth.principal': 'https://issuer/alice' }]]);
    const byPrincipal = { metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.principal' }], value: { stringMatch: { prefix: 'https://issuer/' } } } };
    expect(permits(byPrincipal, attrs({ metadata: md }))).to.equal(true);
    expect(permits(byPrincipal, attrs())).to.equal(false);
    // No request (network RBAC): path rules never match.
    expect(permits({ urlPath: { path: { prefix: '/' } } }, attrs({ request: undefined }))).to.equal(false);
  });

  it('permissions compose: and, or, not', () => {
    const get = { header: { name: ':method', stringMatch: { exact: 'GET' } } };
    const admin = { urlPath: { path: { prefix: '/admin' } } };
    const a = attrs({ request: req('/admin') });
    const b = attrs({ request: req('/admin', {}, 'POST') });
    const c = attrs({ request: req('/home', {}, 'POST') });
    const and = { andRules: { rules: [get, admin] } };
    const or = { orRules: { rules: [get, admin] } };
    expect([a, b, c].map((x) => permits(and, x))).to.deep.equal([true, false, false]);
    expect([a, b, c].map((x) => permits(or, x))).to.deep.equal([true, true, false]);
    expect([a, b, c].map((x) => permits({ notRule: and }, x))).to.deep.equal([false, true, true]);
    expect([a, b, c].map((x) => permits({ andRules: { rules: [admin, { notRule: get }] } }, x))).to.deep.equal([false, true, false]);
  });

  it('principals: authenticated (with and without a name), source/direct/remote IP, header, metadata, not/and/or', () => {
    const bob = 'spiffe://cluster.local/ns/foo/sa/bob';
    const mtls = attrs({ peerPrincipal: bob });
    expect(admits({ authenticated: {} }, mtls)).to.equal(true);
    expect(admits({ authenticated: {} }, attrs())).to.equal(false);
    expect(admits({ authenticated: { principalName: { exact: bob } } }, mtls)).to.equal(true);
    expect(admits({ authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/foo/sa/eve' } } }, mtls)).to.equal(false);
    expect(admits({ authenticated: { principalName: { prefix: 'spiffe://cluster.local/ns/foo/' } } }, mtls)).to.equal(true);
    expect(admits({ authenticated: { principalName: { exact: bob } } }, attrs())).to.equal(false);
    expect(admits({ sourceIp: { addressPrefix: '10.0.0.0', prefixLen: 16 } }, attrs())).to.equal(true);
    expect(admits({ directRemoteIp: { addressPrefix: '10.0.0.5', prefixLen: 32 } }, attrs())).to.equal(true);
    expect(admits({ directRemoteIp: { addressPrefix: '10.0.0.6', prefixLen: 32 } }, attrs())).to.equal(false);
    // remote_ip is the trusted client address (x-forwarded-for on a gateway with trusted hops), not the peer.
    const viaLb = attrs({ remoteIp: '203.0.113.9' });
    expect(admits({ remoteIp: { addressPrefix: '203.0.113.0', prefixLen: 24 } }, viaLb)).to.equal(true);
    expect(admits({ directRemoteIp: { addressPrefix: '203.0.113.0', prefixLen: 24 } }, viaLb)).to.equal(false);
    expect(admits({ header: { name: 'x-user', stringMatch: { exact: 'alice' } } }, attrs({ request: req('/', { 'x-user': 'alice' }) }))).to.equal(true);
    expect(admits({ urlPath: { path: { prefix: '/x' } } }, attrs({ request: req('/x') }))).to.equal(true);
    const md = new Map([['istio_authn', { 'request.auth.claims': { groups: ['dev', 'ops'] } }]]);
    const group = { metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.claims' }, { key: 'groups' }], value: { listMatch: { oneOf: { stringMatch: { exact: 'ops' } } } } } };
    expect(admits(group, attrs({ metadata: md }))).to.equal(true);
    expect(admits({ notId: group }, attrs({ metadata: md }))).to.equal(false);
    expect(admits({ andIds: { ids: [group, { authenticated: {} }] } }, attrs({ metadata: md }))).to.equal(false);
    expect(admits({ andIds: { ids: [group, { authenticated: {} }] } }, attrs({ metadata: md, peerPrincipal: bob }))).to.equal(true);
    expect(admits({ orIds: { ids: [group, { authenticated: {} }] } }, attrs())).to.equal(false);
    expect(admits({ orIds: { ids: [group, { authenticated: {} }] } }, mtls)).to.equal(true);
  });

  it('never matches what it cannot evaluate (CEL conditions, unknown rules) and says so', () => {
    const e = compileRbac({ action: 'ALLOW', policies: {
      cel: { permissions: [{ any: true }], principals: [{ any: true }], condition: { constExpr: { boolValue: true } } },
      fs: { permissions: [{ any: true }], principals: [{ filterState: { key: 'x' } }] },
    } });
    expect(e.evaluate(attrs()).allowed).to.equal(false);
    expect(e.unsupported).to.deep.equal(['policy.condition', 'principal.filterState']);
  });
});

describe('proxy/authz: CIDR ranges', () => {
  it('matches IPv4 prefixes, including /0 and /32, and IPv4-mapped IPv6 addresses as IPv4', () => {
    const c = compileCidr({ addressPrefix: '192.168.4.0', prefixLen: 22 });
    expect(['192.168.4.1', '192.168.7.255', '192.168.8.0', '192.168.3.255', '::ffff:192.168.5.5'].map(c)).to.deep.equal([true, true, false, false, true]);
    expect(compileCidr({ addressPrefix: '0.0.0.0', prefixLen: 0 })('8.8.8.8')).to.equal(true);
    expect(compileCidr({ addressPrefix: '0.0.0.0', prefixLen: 0 })('2001:db8::1')).to.equal(false);
    expect(compileCidr({ addressPrefix: '10.1.2.3', prefixLen: 32 })('10.1.2.3')).to.equal(true);
    expect(compileCidr({ addressPrefix: '10.1.2.3', prefixLen: 32 })('10.1.2.4')).to.equal(false);
    expect(compileCidr({ addressPrefix: '10.1.2.3', prefixLen: { value: 8 } })('10.200.0.1')).to.equal(true);
  });

  it('matches IPv6 prefixes bit by bit, with :: compression, embedded IPv4 and zones', () => {
    expect(Array.from(addressBytes('2001:db8::1')!)).to.deep.equal([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(Array.from(addressBytes('64:ff9b::1.2.3.4')!).slice(12)).to.deep.equal([1, 2, 3, 4]);
    const c = compileCidr({ addressPrefix: '2001:db8:abcd:12::', prefixLen: 63 });
    expect(c('2001:db8:abcd:12::1')).to.equal(true);
    expect(c('2001:db8:abcd:13:ffff::1')).to.equal(true);
    expect(c('2001:db8:abcd:14::1')).to.equal(false);
    expect(c('10.0.0.1')).to.equal(false);
    expect(compileCidr({ addressPrefix: 'fe80::', prefixLen: 10 })('fe80::1%eth0')).to.equal(true);
    expect(compileCidr({ addressPrefix: 'fe80::', prefixLen: 10 })('fec0::1')).to.equal(false);
    expect(compileCidr({ addressPrefix: '::1', prefixLen: 128 })('::1')).to.equal(true);
    expect(compileCidr({ addressPrefix: 'not-an-ip', prefixLen: 8 })('10.0.0.1')).to.equal(false);
  });
});

describe('proxy/authz: metadata matchers', () => {
  const md = new Map<string, Record<string, unknown>>([['f', {
    s: 'hello', n: 3.5, b: true, z: null, list: ['a', 'b'], nested: { deeper: { k: 'v' } },
  }]]);
  const m = (path: string[], value: O, invert = false) => compileMetadataMatcher({ filter: 'f', path: path.map((key) => ({ key })), value, invert })(md);

  it('string, double (range [start, end) and exact), bool, null, present, list one_of, or', () => {
    expect(m(['s'], { stringMatch: { exact: 'hello' } })).to.equal(true);
    expect(m(['s'], { stringMatch: { exact: 'HELLO', ignoreCase: true } })).to.equal(true);
    expect(m(['n'], { doubleMatch: { exact: 3.5 } })).to.equal(true);
    expect(m(['n'], { doubleMatch: { range: { start: 3, end: 3.5 } } })).to.equal(false);
    expect(m(['n'], { doubleMatch: { range: { start: 3.5, end: 4 } } })).to.equal(true);
    expect(m(['b'], { boolMatch: true })).to.equal(true);
    expect(m(['b'], { boolMatch: false })).to.equal(false);
    expect(m(['z'], { nullMatch: {} })).to.equal(true);
    expect(m(['s'], { nullMatch: {} })).to.equal(false);
    expect(m(['s'], { presentMatch: true })).to.equal(true);
    expect(m(['missing'], { presentMatch: true })).to.equal(false);
    expect(m(['list'], { listMatch: { oneOf: { stringMatch: { exact: 'b' } } } })).to.equal(true);
    expect(m(['list'], { listMatch: { oneOf: { stringMatch: { exact: 'c' } } } })).to.equal(false);
    expect(m(['s'], { orMatch: { valueMatchers: [{ boolMatch: true }, { stringMatch: { suffix: 'llo' } }] } })).to.equal(true);
    // A string matcher does not match a number, nor a list.
    expect(m(['n'], { stringMatch: { exact: '3.5' } })).to.equal(false);
    expect(m(['list'], { stringMatch: { exact: 'a' } })).to.equal(false);
  });

  it('walks nested structs, and invert flips the result (a missing value then matches)', () => {
    expect(m(['nested', 'deeper', 'k'], { stringMatch: { exact: 'v' } })).to.equal(true);
    expect(m(['nested', 'nope', 'k'], { stringMatch: { exact: 'v' } })).to.equal(false);
    expect(m(['nested', 'nope', 'k'], { stringMatch: { exact: 'v' } }, true)).to.equal(true);
    expect(m(['s'], { stringMatch: { exact: 'hello' } }, true)).to.equal(false);
    expect(compileMetadataMatcher({ filter: 'other', path: [{ key: 's' }], value: { presentMatch: true } })(md)).to.equal(false);
  });
});

describe('proxy/authz: the RBAC filter (rules, shadow rules, LOG)', () => {
  const denyAdmin = { action: 'DENY', policies: { 'ns[a]-policy[deny-admin]-rule[0]': { permissions: [{ urlPath: { path: { prefix: '/admin' } } }], principals: [{ any: true }] } } };
  const allowGet = { action: 'ALLOW', policies: { 'ns[a]-policy[get]-rule[0]': { permissions: [{ header: { name: ':method', stringMatch: { exact: 'GET' } } }], principals: [{ any: true }] } } };

  it('denies with Envoy\'s details, naming the matched DENY policy or none for ALLOW rules', () => {
    const md = new Map();
    const d = checkRbacFilter(compileRbacFilter({ rules: denyAdmin }), attrs({ request: req('/admin') }), md);
    expect(d).to.deep.include({ allowed: false, action: 'DENY', policy: 'ns[a]-policy[deny-admin]-rule[0]', details: 'rbac_access_denied_matched_policy[ns[a]-policy[deny-admin]-rule[0]]' });
    const a = checkRbacFilter(compileRbacFilter({ rules: allowGet }), attrs({ request: req('/', {}, 'DELETE') }), md);
    expect(a).to.deep.include({ allowed: false, details: 'rbac_access_denied_matched_policy[none]' });
    expect(md.size).to.equal(0);
    expect(checkRbacFilter(compileRbacFilter({}), attrs(), md)).to.deep.equal({ allowed: true });
  });

  it('evaluates shadow rules without enforcing them and writes their result under the stat prefix', () => {
    const md = new Map<string, Record<string, unknown>>();
    const f = compileRbacFilter({ shadowRules: denyAdmin, shadowRulesStatPrefix: 'istio_dry_run_deny_' });
    const d = checkRbacFilter(f, attrs({ request: req('/admin') }), md);
    expect(d.allowed).to.equal(true);
    expect(d.shadow).to.deep.equal({ allowed: false, action: 'DENY', policy: 'ns[a]-policy[deny-admin]-rule[0]', prefix: 'istio_dry_run_deny_' });
    expect(md.get('envoy.filters.http.rbac')).to.deep.equal({
      istio_dry_run_deny_shadow_effective_policy_id: 'ns[a]-policy[deny-admin]-rule[0]',
      istio_dry_run_deny_shadow_engine_result: 'denied',
    });
    const md2 = new Map<string, Record<string, unknown>>();
    checkRbacFilter(f, attrs({ request: req('/home') }), md2);
    expect(md2.get('envoy.filters.http.rbac')).to.deep.equal({ istio_dry_run_deny_shadow_engine_result: 'allowed' });
  });

  it('LOG rules allow and set access_log_hint under envoy.common', () => {
    const log = { ...denyAdmin, action: 'LOG' };
    const md = new Map<string, Record<string, unknown>>();
    const d = checkRbacFilter(compileRbacFilter({ rules: log }), attrs({ request: req('/admin') }), md);
    expect(d).to.deep.include({ allowed: true, action: 'LOG', logged: true });
    expect(md.get('envoy.common')).to.deep.equal({ access_log_hint: true });
    checkRbacFilter(compileRbacFilter({ rules: log }), attrs({ request: req('/x') }), md);
    expect(md.get('envoy.common')).to.deep.equal({ access_log_hint: false });
  });

  it('the trusted remote address follows use_remote_address and xff_num_trusted_hops', () => {
    const r = req('/', { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' });
    expect(trustedRemoteIp({ useRemoteAddress: true }, r, '10.0.0.1')).to.equal('10.0.0.1');
    expect(trustedRemoteIp({ useRemoteAddress: true, xffNumTrustedHops: 1 }, r, '10.0.0.1')).to.equal('203.0.113.7');
    expect(trustedRemoteIp({ useRemoteAddress: true, xffNumTrustedHops: 2 }, r, '10.0.0.1')).to.equal('198.51.100.1');
    expect(trustedRemoteIp({ useRemoteAddress: true, xffNumTrustedHops: 3 }, r, '10.0.0.1')).to.equal('10.0.0.1');
    expect(trustedRemoteIp({}, r, '10.0.0.1')).to.equal('203.0.113.7');
    expect(trustedRemoteIp({}, req('/'), '10.0.0.1')).to.equal('10.0.0.1');
    const a = httpAttributes({ port: 80, sourceIp: '10.0.0.1' }, { useRemoteAddress: true, xffNumTrustedHops: 1 }, r, undefined);
    expect([a.directRemoteIp, a.remoteIp]).to.deep.equal(['10.0.0.1', '203.0.113.7']);
  });
});
