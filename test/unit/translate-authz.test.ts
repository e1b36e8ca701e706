// AuthorizationPolicy and RequestAuthentication translation, function by function: the matchers Istio writes for
// policy values, one rule → one RBAC policy (TCP and invalid values by action), which policies apply to a workload,
// extension providers → ext_authz, jwtRules → jwt_authn, and the filters a workload's chains end up with (the
// whole outputs are in the golden cases authz-* and requestauthn-jwt).
import { expect } from 'chai';
import type { AuthorizationPolicy, RequestAuthentication } from '../../src/api/index.ts';
import type { ExtensionProvider, MeshOptions, Snapshot } from '../../src/model/types.ts';
import { workloadSecurity } from '../../src/translate/authz/index.ts';
import { resolveProvider } from '../../src/translate/authz/ext-authz.ts';
import { fakeJwks, jwksFor, jwtAuthentication, jwtRulesOf } from '../../src/translate/authz/jwt.ts';
import { cidr, headerMatcher, hostMatcher, port, stringMatcher } from '../../src/translate/authz/matchers.ts';
import { isDryRun, ruleSets } from '../../src/translate/authz/rbac.ts';
import { rulePolicy, type Rule } from '../../src/translate/authz/rule.ts';
import { authorizationPoliciesFor, requestAuthenticationsFor } from '../../src/translate/authz/select.ts';
import { encodeProxyConfig } from '../../src/translate/envoy/proto.ts';
import type { TranslateContext } from '../../src/translate/index.ts';
import { translate } from '../../src/translate/index.ts';
import { pathNormalizationFields } from '../../src/translate/network-filters.ts';
import { app, namespace, snapshotOf, type InputPart } from '../support/mesh-fixtures.ts';

type Any = any;

const policy = (name: string, ns: string, spec: Record<string, unknown>, annotations?: Record<string, string>): AuthorizationPolicy =>
  ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) }, spec } as AuthorizationPolicy);
const requestAuthn = (name: string, ns: string, spec: Record<string, unknown>): RequestAuthentication =>
  ({ apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name, namespace: ns }, spec } as RequestAuthentication);

const mesh = (...more: InputPart[]): Snapshot => snapshotOf(
  { namespaces: [namespace('foo', { 'weft-injection': 'enabled' }), namespace('bar', { 'weft-injection': 'enabled' })] },
  app('httpbin', 'foo', { port: 8000, versions: { v1: ['10.0.1.1'] } }),
  app('sleep', 'bar', { port: 80, versions: { v1: ['10.0.2.1'] } }),
  app('ext-authz', 'auth', { ports: [{ name: 'http', port: 8000 }, { name: 'grpc', port: 9000 }], versions: { v1: ['10.0.5.1'] } }),
  ...more,
);
const withPolicies = (...list: AuthorizationPolicy[]): InputPart => ({ config: { authorizationPolicies: list } });
const withOptions = (o: Partial<MeshOptions>): InputPart => ({ options: o });

function contextOf(s: Snapshot, ns: string, name: string): TranslateContext & { inputs: string[] } {
  const inputs: string[] = [];
  return { workload: s.workload(ns, name)!, snapshot: s, use: (k) => void inputs.push(k), inputs };
}

const principalIds = (p: Any): Any[] => p.principals[0].andIds.ids;
const permissionRules = (p: Any): Any[] => p.permissions[0].andRules.rules;

describe('translate: authorization', () => {
  describe('matchers', () => {
    it('reads exact, prefix, suffix and presence as Istio does, with an optional prefix such as spiffe://', () => {
      expect(stringMatcher('abc')).to.deep.equal({ exact: 'abc' });
      expect(stringMatcher('abc*')).to.deep.equal({ prefix: 'abc' });
      expect(stringMatcher('*abc')).to.deep.equal({ suffix: 'abc' });
      expect(stringMatcher('*')).to.deep.equal({ safeRegex: { regex: '.+' } });
      expect(stringMatcher('td/ns/a/sa/b', 'spiffe://')).to.deep.equal({ exact: 'spiffe://td/ns/a/sa/b' });
      expect(stringMatcher('td/ns/a/*', 'spiffe://')).to.deep.equal({ prefix: 'spiffe://td/ns/a/' });
      expect(stringMatcher('*/sa/admin', 'spiffe://')).to.deep.equal({ safeRegex: { regex: 'spiffe://.*/sa/admin' } });
      expect(stringMatcher('*', 'spiffe://')).to.deep.equal({ safeRegex: { regex: '.+' } });
    });

    it('matches headers by value or presence, hosts case-insensitively as written', () => {
      expect(headerMatcher('x-a', '*')).to.deep.equal({ name: 'x-a', presentMatch: true });
      expect(headerMatcher('x-a', 'v*')).to.deep.equal({ name: 'x-a', stringMatch: { prefix: 'v' } });
      expect(hostMatcher(':authority', 'Example.com:8080')).to.deep.equal({ name: ':authority', stringMatch: { exact: 'Example.com:8080', ignoreCase: true } });
      expect(hostMatcher(':authority', '*')).to.deep.equal({ name: ':authority', presentMatch: true });
    });

    it('turns IPs and CIDRs into ranges, and refuses what is neither', () => {
      expect(cidr('10.1.2.3')).to.deep.equal({ addressPrefix: '10.1.2.3', prefixLen: { value: 32 } });
      expect(cidr('10.0.0.0/8')).to.deep.equal({ addressPrefix: '10.0.0.0', prefixLen: { value: 8 } });
      expect(cidr('2001:db8::/32')).to.deep.equal({ addressPrefix: '2001:db8::', prefixLen: { value: 32 } });
      expect(cidr('0.0.0.0/0')).to.deep.equal({ addressPrefix: '0.0.0.0', prefixLen: {} });
      for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0/8', '1.2.3.4/x']) expect(cidr(bad), bad).to.equal(undefined);
      expect(port('8080')).to.equal(8080);
      expect(port('65536')).to.equal(undefined);
      expect(port('http')).to.equal(undefined);
    });
  });

  describe('one rule', () => {
    const rule = (r: Record<string, unknown>) => r as Rule;

    it('puts the source fields, then the conditions, in one AND per `from` entry, in Istio order', () => {
      const p: Any = rulePolicy(rule({
        from: [{ source: { ipBlocks: ['10.0.0.0/8'], namespaces: ['foo'], principals: ['td/ns/foo/sa/a'], requestPrincipals: ['iss/sub'] } }],
        when: [{ key: 'request.headers[x-a]', values: ['1'] }],
      }), 'foo', false, 'ALLOW');
      const ids = principalIds(p);
      expect(ids.map((x: Any) => Object.keys(x.orIds.ids[0])[0])).to.deep.equal(['authenticated', 'metadata', 'authenticated', 'directRemoteIp', 'header']);
      expect(ids[0].orIds.ids[0].authenticated.principalName).to.deep.equal({ exact: 'spiffe://td/ns/foo/sa/a' });
      expect(ids[1].orIds.ids[0].metadata).to.deep.equal({ filter: 'istio_authn', path: [{ key: 'request.auth.principal' }], value: { stringMatch: { exact: 'iss/sub' } } });
      expect(ids[2].orIds.ids[0].authenticated.principalName).to.deep.equal({ safeRegex: { regex: '.*/ns/foo/.*' } });
      expect(p.permissions).to.deep.equal([{ andRules: { rules: [{ any: true }] } }]);
    });

    it('gives each not-form a NOT of the OR of its values', () => {
      const p: Any = rulePolicy(rule({ to: [{ operation: { methods: ['GET', 'HEAD'], notPaths: ['/admin*'] } }] }), 'foo', false, 'ALLOW');
      expect(permissionRules(p)).to.deep.equal([
        { orRules: { rules: [{ header: { name: ':method', stringMatch: { exact: 'GET' } } }, { header: { name: ':method', stringMatch: { exact: 'HEAD' } } }] } },
        { notRule: { orRules: { rules: [{ urlPath: { path: { prefix: '/admin' } } }] } } },
      ]);
    });

    it('maps JWT claims to the istio_authn metadata, nested claims to a path, audiences to a list', () => {
      const p: Any = rulePolicy(rule({
        when: [{ key: 'request.auth.claims[realm][roles]', values: ['editor'] }, { key: 'request.auth.audiences', notValues: ['x'] }],
      }), 'foo', false, 'ALLOW');
      const ids = principalIds(p);
      expect(ids[0].orIds.ids[0].metadata).to.deep.equal({
        filter: 'istio_authn', path: [{ key: 'request.auth.claims' }, { key: 'realm' }, { key: 'roles' }],
        value: { listMatch: { oneOf: { stringMatch: { exact: 'editor' } } } },
      });
      expect(ids[1].notId.orIds.ids[0].metadata.path).to.deep.equal([{ key: 'request.auth.audiences' }]);
    });

    it('service accounts default to the policy namespace', () => {
      const p: Any = rulePolicy(rule({ from: [{ source: { serviceAccounts: ['sleep', 'bar/client'] } }] }), 'foo', false, 'ALLOW');
      expect(principalIds(p)[0].orIds.ids.map((x: Any) => x.authenticated.principalName.safeRegex.regex)).to.deep.equal([
        'spiffe://.+/ns/foo/(.+/|)sa/sleep(/.+)?', 'spiffe://.+/ns/bar/(.+/|)sa/client(/.+)?',
      ]);
    });

    it('on TCP leaves an ALLOW rule with HTTP-only fields out, and drops those fields from a DENY rule', () => {
      const r = rule({ to: [{ operation: { methods: ['GET'], ports: ['80'] } }], from: [{ source: { requestPrincipals: ['*'] } }] });
      expect(rulePolicy(r, 'foo', true, 'ALLOW')).to.equal(undefined);
      expect(rulePolicy(r, 'foo', true, 'DENY')).to.deep.equal({
        permissions: [{ andRules: { rules: [{ orRules: { rules: [{ destinationPort: 80 }] } }] } }],
        principals: [{ andIds: { ids: [{ any: true }] } }],
      });
      // HTTP keeps everything.
      expect(permissionRules(rulePolicy(r, 'foo', false, 'ALLOW'))).to.have.length(2);
    });

    it('treats an unusable value like an HTTP-only one (ALLOW: rule left out; DENY, LOG: value dropped)', () => {
      const r = rule({ from: [{ source: { ipBlocks: ['not-an-ip', '10.0.0.0/8'] } }], to: [{ operation: { ports: ['99999'] } }] });
      expect(rulePolicy(r, 'foo', false, 'ALLOW')).to.equal(undefined);
      const p: Any = rulePolicy(r, 'foo', false, 'LOG');
      expect(principalIds(p)).to.deep.equal([{ orIds: { ids: [{ directRemoteIp: { addressPrefix: '10.0.0.0', prefixLen: { value: 8 } } }] } }]);
      expect(permissionRules(p)).to.deep.equal([{ any: true }]);
    });

    it('leaves out a rule with a condition key Istio does not know, whatever the action, and never throws', () => {
      expect(rulePolicy(rule({ when: [{ key: 'source.nope', values: ['x'] }] }), 'foo', false, 'DENY')).to.equal(undefined);
      expect(rulePolicy(null, 'foo', false, 'ALLOW')).to.equal(undefined);
      expect(rulePolicy(rule({ when: [{ key: 'request.headers', values: ['x'] }] }), 'foo', false, 'ALLOW')).to.equal(undefined);
      expect(rulePolicy(rule({ from: 'garbage', to: [null], when: [{ key: 'source.ip', values: 'x' }] } as Any), 'foo', false, 'ALLOW'))
        .to.deep.equal({ permissions: [{ andRules: { rules: [{ any: true }] } }], principals: [{ andIds: { ids: [{ any: true }] } }] });
    });

    it('reads experimental.envoy.filters.* conditions as Envoy metadata', () => {
      const p: Any = rulePolicy(rule({ when: [{ key: 'experimental.envoy.filters.a.b[c]', values: ['x', '[y]'] }] }), 'foo', false, 'ALLOW');
      expect(permissionRules(p)[0].orRules.rules).to.deep.equal([
        { metadata: { filter: 'envoy.filters.a.b', path: [{ key: 'c' }], value: { stringMatch: { exact: 'x' } } } },
        { metadata: { filter: 'envoy.filters.a.b', path: [{ key: 'c' }], value: { listMatch: { oneOf: { stringMatch: { exact: 'y' } } } } } },
      ]);
    });

    it('writes path templates as uri_template and a zero port as a one-port range', () => {
      const p: Any = rulePolicy(rule({ to: [{ operation: { paths: ['/a/{*}/b/{**}'], ports: ['0'] } }] }), 'foo', false, 'ALLOW');
      expect(permissionRules(p)[0].orRules.rules[0].uriTemplate.typedConfig.pathTemplate).to.equal('/a/*/b/**');
      expect(permissionRules(p)[1].orRules.rules[0]).to.deep.equal({ destinationPortRange: { end: 1 } });
    });
  });

  describe('rule sets', () => {
    it('names policies ns[..]-policy[..]-rule[i], puts dry-run ones in shadowRules, and makes an empty ALLOW match nothing', () => {
      const sets: Any = ruleSets([
        policy('empty', 'foo', {}),
        policy('two', 'foo', { rules: [{}, { to: [{ operation: { methods: ['GET'] } }] }] }),
        policy('dry', 'foo', { rules: [{}] }, { 'istio.io/dry-run': 'true' }),
      ], 'ALLOW', false);
      expect(Object.keys(sets.rules.policies)).to.deep.equal(['ns[foo]-policy[empty]-rule[0]', 'ns[foo]-policy[two]-rule[0]', 'ns[foo]-policy[two]-rule[1]']);
      expect(sets.rules.policies['ns[foo]-policy[empty]-rule[0]']).to.deep.equal({ permissions: [{ notRule: { any: true } }], principals: [{ notId: { any: true } }] });
      expect(sets.rules.action).to.equal(undefined); // ALLOW is the proto3 default
      expect(Object.keys(sets.shadowRules.policies)).to.deep.equal(['ns[foo]-policy[dry]-rule[0]']);
    });

    it('reads the dry-run annotation as Go booleans', () => {
      for (const v of ['true', 'True', 'TRUE', '1', 't']) expect(isDryRun(policy('p', 'foo', {}, { 'istio.io/dry-run': v })), v).to.equal(true);
      for (const v of ['false', 'yes', '']) expect(isDryRun(policy('p', 'foo', {}, { 'istio.io/dry-run': v })), v).to.equal(false);
    });
  });

  describe('which policies apply', () => {
    const s = mesh(withPolicies(
      policy('mesh', 'weft-system', { action: 'DENY', rules: [{}] }),
      policy('mesh-sleep', 'weft-system', { selector: { matchLabels: { app: 'sleep' } } }),
      policy('ns', 'foo', {}),
      policy('mine', 'foo', { selector: { matchLabels: { app: 'httpbin' } } }),
      policy('theirs', 'foo', { selector: { matchLabels: { app: 'other' } } }),
      policy('waypoint', 'foo', { targetRefs: [{ kind: 'Service', name: 'httpbin' }] }),
      policy('gateway', 'foo', { targetRef: { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'gw' } }),
      policy('elsewhere', 'bar', {}),
    ), { config: { requestAuthentications: [requestAuthn('jwt', 'foo', { selector: { matchLabels: { app: 'httpbin' } } }), requestAuthn('target', 'foo', { targetRef: { kind: 'Gateway', name: 'x' } })] } });
    const names = (ps: Array<{ metadata?: { name?: string } }>) => ps.map((p) => p.metadata?.name);

    it('takes the mesh, namespace and selecting policies, root namespace first; never targetRef ones', () => {
      expect(names(authorizationPoliciesFor(s, s.workload('foo', 'httpbin-v1')!))).to.deep.equal(['mesh', 'mine', 'ns']);
      expect(names(authorizationPoliciesFor(s, s.workload('bar', 'sleep-v1')!))).to.deep.equal(['mesh', 'mesh-sleep', 'elsewhere']);
      expect(names(requestAuthenticationsFor(s, s.workload('foo', 'httpbin-v1')!))).to.deep.equal(['jwt']);
    });

    it('records every policy that shapes a workload as an input', () => {
      const ctx = contextOf(s, 'foo', 'httpbin-v1');
      workloadSecurity(ctx);
      expect([...ctx.inputs].sort()).to.deep.equal([
        'AuthorizationPolicy/foo/mine', 'AuthorizationPolicy/foo/ns', 'AuthorizationPolicy/weft-system/mesh', 'RequestAuthentication/foo/jwt',
      ]);
      const pc = translate(s.workload('foo', 'httpbin-v1')!, s);
      expect(pc.inputs).to.include.members(ctx.inputs);
    });
  });

  describe('extension providers', () => {
    const provider = (p: Partial<ExtensionProvider>) => mesh(withOptions({ extensionProviders: [{ name: 'x', ...p }] }));

    it('resolves an HTTP provider to its cluster and Istio defaults (600s timeout, V3)', () => {
      const r: Any = resolveProvider(provider({ envoyExtAuthzHttp: { service: 'ext-authz.auth.svc.cluster.local', port: 8000 } }), 'x');
      expect(r.ok.cluster).to.deep.equal({ name: 'outbound|8000||ext-authz.auth.svc.cluster.local', host: 'ext-authz.auth.svc.cluster.local', port: 8000 });
      expect(r.ok.http.httpService.serverUri).to.deep.equal({ uri: 'http://ext-authz.auth.svc.cluster.local', cluster: 'outbound|8000||ext-authz.auth.svc.cluster.local', timeout: { seconds: 600 } });
      expect(r.ok.http.transportApiVersion).to.equal('V3');
      expect(r.ok.tcp).to.equal(undefined);
    });

    it('resolves a gRPC provider (namespace/host form) for HTTP and TCP, with an authority free of `|`', () => {
      const r: Any = resolveProvider(provider({ envoyExtAuthzGrpc: { service: 'auth/ext-authz', port: 9000, failOpen: true, statusOnError: '500' } }), 'x');
      expect(r.ok.http.grpcService.envoyGrpc).to.deep.equal({ clusterName: 'outbound|9000||ext-authz.auth.svc.cluster.local', authority: 'outbound_.9000_._.ext-authz.auth.svc.cluster.local' });
      expect(r.ok.http.statusOnError).to.deep.equal({ code: 'InternalServerError' });
      expect(r.ok.tcp.failureModeAllow).to.equal(true);
    });

    it('reports a missing or invalid provider instead of building one', () => {
      const cases: Array<[Partial<ExtensionProvider>, string]> = [
        [{ envoyExtAuthzHttp: { service: 'nope.auth.svc.cluster.local', port: 8000 } }, 'could not find'],
        [{ envoyExtAuthzHttp: { service: 'ext-authz.auth.svc.cluster.local', port: 0 } }, 'port'],
        [{ envoyExtAuthzHttp: { service: 'ext-authz.auth.svc.cluster.local', port: 8000, statusOnError: '999' } }, 'statusOnError'],
        [{ envoyExtAuthzHttp: { service: 'ext-authz.auth.svc.cluster.local', port: 8000, pathPrefix: 'check' } }, 'pathPrefix'],
        [{ envoyExtAuthzHttp: { service: 'ext-authz.auth.svc.cluster.local', port: 8000, headersToUpstreamOnAllow: ['*'] } }, 'wildcard'],
        [{ zipkin: { service: 'z', port: 9411 } }, 'not an authorizer'],
      ];
      for (const [p, msg] of cases) expect((resolveProvider(provider(p), 'x') as Any).error, msg).to.include(msg);
      expect((resolveProvider(provider({}), 'other') as Any).error).to.include('not defined');
    });

    it('fails closed: CUSTOM policies with a missing provider, or several providers on one workload, become a DENY', () => {
      const s = mesh(
        withOptions({ extensionProviders: [{ name: 'a', envoyExtAuthzHttp: { service: 'ext-authz.auth.svc.cluster.local', port: 8000 } },
          { name: 'b', envoyExtAuthzGrpc: { service: 'ext-authz.auth.svc.cluster.local', port: 9000 } }] }),
        withPolicies(
          policy('one', 'foo', { action: 'CUSTOM', provider: { name: 'a' }, rules: [{ to: [{ operation: { paths: ['/a'] } }] }] }),
          policy('two', 'foo', { action: 'CUSTOM', provider: { name: 'b' }, rules: [{}] }),
          policy('three', 'bar', { action: 'CUSTOM', provider: { name: 'missing' }, rules: [{}] }),
        ),
      );
      for (const [ns, name] of [['foo', 'httpbin-v1'], ['bar', 'sleep-v1']] as const) {
        const sec = workloadSecurity(contextOf(s, ns, name));
        expect(sec.http.map((f) => f.name), name).to.deep.equal(['envoy.filters.http.rbac']);
        const rules: Any = (sec.http[0]!.typedConfig as Any).rules;
        expect(rules.action).to.equal('DENY');
        expect(Object.keys(rules.policies).every((k) => k.startsWith('istio-ext-authz-') && k.endsWith('-deny-due-to-bad-CUSTOM-action'))).to.equal(true);
        expect(sec.tcp.map((f) => f.name)).to.deep.equal(['envoy.filters.network.rbac']);
      }
    });

    it('an HTTP authorizer leaves TCP chains alone; its cluster is part of the workload config', () => {
      const s = mesh(
        withOptions({ extensionProviders: [{ name: 'a', envoyExtAuthzHttp: { service: 'ext-authz.auth.svc.cluster.local', port: 8000 } }] }),
        withPolicies(policy('one', 'foo', { action: 'CUSTOM', provider: { name: 'a' }, rules: [{}] })),
      );
      const sec = workloadSecurity(contextOf(s, 'foo', 'httpbin-v1'));
      expect(sec.http.map((f) => f.name)).to.deep.equal(['envoy.filters.http.rbac', 'envoy.filters.http.ext_authz']);
      expect(sec.tcp).to.deep.equal([]);
      const pc = translate(s.workload('foo', 'httpbin-v1')!, s);
      expect(pc.clusters.map((c) => c.name)).to.include('outbound|8000||ext-authz.auth.svc.cluster.local');
      expect(() => encodeProxyConfig(pc)).not.to.throw();
    });
  });

  describe('JWT', () => {
    it('sorts rules by issuer across policies and requires any token present to be valid', () => {
      const rules = jwtRulesOf([
        requestAuthn('a', 'foo', { jwtRules: [{ issuer: 'z', jwks: '{}' }, { issuer: 'b', jwks: '{}' }] }),
        requestAuthn('b', 'foo', { jwtRules: [{ issuer: 'a', jwks: '{}' }, null] }),
      ]);
      expect(rules.map((r) => r.issuer)).to.deep.equal(['a', 'b', 'z']);
      const one: Any = jwtAuthentication(rules.slice(0, 1), {});
      expect(one.rules).to.deep.equal([{ match: { prefix: '/' }, requires: { requiresAny: { requirements: [{ providerName: 'origins-0' }, { allowMissing: {} }] } } }]);
      expect(one.providers['origins-0'].payloadInMetadata).to.equal('a');
      expect(jwtAuthentication([], {})).to.equal(undefined);
    });

    it('takes inline keys, then fetched ones, else a key set no token verifies against', () => {
      const fetched = { 'https://a/jwks': { keys: '{"keys":[1]}' }, 'https://b/jwks': { error: 'timeout' } };
      expect(jwksFor({ issuer: 'i', jwks: '{"keys":[0]}', jwksUri: 'https://a/jwks' }, fetched)).to.equal('{"keys":[0]}');
      expect(jwksFor({ issuer: 'i', jwksUri: 'https://a/jwks' }, fetched)).to.equal('{"keys":[1]}');
      expect(jwksFor({ issuer: 'i', jwks_uri: 'https://a/jwks' }, fetched)).to.equal('{"keys":[1]}');
      expect(jwksFor({ issuer: 'i', jwksUri: 'https://b/jwks' }, fetched)).to.equal(fakeJwks('https://b/jwks'));
      expect(JSON.parse(fakeJwks('https://b/jwks')).keys[0]).to.include({ kty: 'RSA', kid: 'abc', e: 'AQAB' });
    });
  });

  describe('invalid input', () => {
    it('never throws and always gives config that encodes', () => {
      const garbage: Any[] = [
        { rules: 'x' }, { rules: [null, 7, 'x', { from: [{ source: { principals: 'x', namespaces: ['a(b'] } }] }] },
        { action: 'WHATEVER', rules: [{}] }, { action: 'CUSTOM', provider: 'x', rules: [{}] },
        { rules: [{ when: [{ key: 7, values: [1, 'a'] }, null] }] },
        { rules: [{ to: [{ operation: { ports: [80, 'x'], methods: [null], paths: ['{'] } }] }] },
        { selector: 'x', rules: [{ from: [{ source: { ipBlocks: ['1.2.3.4/99', '::1'] } }] }] },
      ];
      const s = mesh(
        withPolicies(...garbage.map((spec, i) => policy(`g${i}`, 'foo', spec, i === 3 ? { 'istio.io/dry-run': 7 as Any } : undefined))),
        { config: { requestAuthentications: [requestAuthn('r', 'foo', { jwtRules: [null, { issuer: 5, jwks: {}, fromHeaders: 'x', outputClaimToHeaders: [{ header: 1 }] }, 'x'] })] } },
        withOptions({ extensionProviders: [{ name: 'x', envoyExtAuthzHttp: { service: 7, port: '80', timeout: 5, pathPrefix: 3 } as Any }], jwks: { '': { keys: 5 } as Any } }),
      );
      for (const [ns, name] of [['foo', 'httpbin-v1'], ['bar', 'sleep-v1']] as const) {
        const pc = translate(s.workload(ns, name)!, s);
        expect(() => encodeProxyConfig(pc), name).not.to.throw();
      }
    });

    it('leaves out identities whose regex RE2 cannot compile', () => {
      expect(rulePolicy({ from: [{ source: { namespaces: ['a(b'] } }] } as Rule, 'foo', false, 'ALLOW')).to.equal(undefined);
    });
  });

  describe('path normalization', () => {
    it('sets the connection manager as Istio does for each MeshConfig setting', () => {
      expect(pathNormalizationFields('NONE')).to.deep.equal({ pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' });
      expect(pathNormalizationFields('BASE')).to.deep.equal({ normalizePath: { value: true }, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' });
      expect(pathNormalizationFields('MERGE_SLASHES')).to.include({ mergeSlashes: true });
      expect(pathNormalizationFields('DECODE_AND_MERGE_SLASHES')).to.deep.equal({
        normalizePath: { value: true }, mergeSlashes: true, pathWithEscapedSlashesAction: 'UNESCAPE_AND_FORWARD',
      });
    });

    it('reaches every connection manager of a workload', () => {
      const s = mesh(withOptions({ pathNormalization: 'MERGE_SLASHES' }));
      const pc = translate(s.workload('foo', 'httpbin-v1')!, s);
      const hcms = JSON.stringify(pc.listeners).match(/"mergeSlashes":true/g) ?? [];
      const all = JSON.stringify(pc.listeners).match(/HttpConnectionManager"/g) ?? [];
      expect(hcms.length).to.equal(all.length).and.to.be.greaterThan(0);
      expect(JSON.stringify(pc.listeners)).not.to.include('UNESCAPE_AND_FORWARD');
    });
  });
});
