// AuthorizationPolicy validation: the rules that are easy to get subtly wrong (crds/testdata is checked for every
// kind in validate-testdata.test.ts).
import { expect } from 'chai';
import type { AuthorizationPolicy } from '../../src/api/authorizationpolicy.ts';
import { validateAuthorizationPolicy } from '../../src/validate/authorizationpolicy.ts';
import { checkMatchString, checkMethod, checkPath, methodWarning } from '../../src/validate/authz-values.ts';
import { formatFinding } from '../../src/validate/result.ts';

const errorsOf = (obj: AuthorizationPolicy): string[] => validateAuthorizationPolicy(obj).errors.map(formatFinding);
const ap = (spec: AuthorizationPolicy['spec']): AuthorizationPolicy => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'x', namespace: 'default' },
  spec,
});

describe('validate/authorizationpolicy', () => {
  it('distinguishes absent rules from an empty list', () => {
    expect(errorsOf(ap({ action: 'DENY' }))).to.have.length(1);
    const empty = validateAuthorizationPolicy(ap({ action: 'DENY', rules: [] }));
    expect(empty.errors).to.deep.equal([]);
    expect(empty.warnings[0]?.message).to.include('never matches');
    expect(validateAuthorizationPolicy(ap({ rules: [] }))).to.deep.equal({ errors: [], warnings: [] });
    expect(validateAuthorizationPolicy(ap({}))).to.deep.equal({ errors: [], warnings: [] });
    expect(validateAuthorizationPolicy(ap({ action: 'AUDIT' })).warnings).to.have.length(1);
  });

  it('treats * as a prefix, suffix or presence match only', () => {
    for (const ok of ['*', 'abc*', '*abc', 'cluster.local/ns/default/sa/*']) expect(checkMatchString(ok), ok).to.equal(undefined);
    for (const bad of ['a*c', '*abc*', '**', '']) expect(checkMatchString(bad), bad).to.be.a('string');
  });

  it('checks paths and their {*} / {**} templates', () => {
    for (const ok of ['/a', '/a*', '*.js', '/a/{*}/b', '/a/{**}', '/{*}/{*}/{**}', '/a/{*}/b%20c']) {
      expect(checkPath(ok), ok).to.equal(undefined);
    }
    expect(checkPath('/a/*/b')).to.include('{*}');
    expect(checkPath('/a/{**}/{*}')).to.include('last');
    expect(checkPath('/a/x{*}')).to.include('whole segment');
    expect(checkPath('/a/{id}')).to.include('templates');
    expect(checkPath('/a/{*}/b*')).to.include('not allowed');
  });

  it('accepts any non-empty HTTP method, as Istio does, and warns about those that never match', () => {
    expect(checkMethod('GET')).to.equal(undefined);
    expect(checkMethod('get')).to.equal(undefined);
    expect(checkMethod('')).to.include('empty');
    expect(methodWarning('GET')).to.equal(undefined);
    expect(methodWarning('PROPFIND')).to.equal(undefined);
    expect(methodWarning('G*')).to.equal(undefined);
    expect(methodWarning('Get')).to.include('"GET"');
    expect(methodWarning('GET POST')).to.include('not a valid HTTP method');
    const r = validateAuthorizationPolicy(ap({ rules: [{ to: [{ operation: { methods: ['get', 'method-prefix-*', 'G*T'], notMethods: ['put'] } }] }] }));
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings.map((w) => w.field)).to.deep.equal([
      'spec.rules[0].to[0].operation.methods[0]',
      'spec.rules[0].to[0].operation.methods[1]',
      'spec.rules[0].to[0].operation.methods[2]',
      'spec.rules[0].to[0].operation.notMethods[0]',
    ]);
  });

  it('warns that a DENY rule with only HTTP attributes also denies TCP traffic', () => {
    const http = validateAuthorizationPolicy(ap({ action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST'] } }] }] }));
    expect(http.errors).to.deep.equal([]);
    expect(http.warnings.map((w) => w.message).join()).to.include('TCP');
    const jwtOnly = validateAuthorizationPolicy(ap({ action: 'DENY', rules: [{ from: [{ source: { requestPrincipals: ['*'] } }] }] }));
    expect(jwtOnly.warnings.map((w) => w.message).join()).to.include('TCP');
    const scoped = validateAuthorizationPolicy(ap({ action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST'], ports: ['80'] } }] }] }));
    expect(scoped.warnings).to.deep.equal([]);
    const allowHttp = validateAuthorizationPolicy(ap({ rules: [{ to: [{ operation: { methods: ['POST'] } }] }] }));
    expect(allowHttp.warnings).to.deep.equal([]);
  });

  it('reports a bad condition key once even when values and notValues are both set', () => {
    const errs = errorsOf(ap({ rules: [{ when: [{ key: 'request.headers', values: ['a'], notValues: ['b'] }] }] }));
    expect(errs).to.have.length(1);
    expect(errs[0]).to.include('spec.rules[0].when[0].key');
  });

  it('checks condition values by key', () => {
    const when = (key: string, values: string[]) => errorsOf(ap({ rules: [{ when: [{ key, values }] }] }));
    expect(when('remote.ip', ['10.0.0.0/8', '::1'])).to.deep.equal([]);
    expect(when('destination.ip', ['10.0.0.0/40'])[0]).to.include('values[0]');
    expect(when('source.serviceAccount', ['a/b/c'])[0]).to.include('namespace/serviceAccount');
    expect(when('destination.namespace', ['x'])[0]).to.include('metadata.namespace');
    expect(when('request.auth.claims[groups]', [''])[0]).to.include('empty value');
  });

  it('accepts the allowed targetRef kinds only', () => {
    const target = (group: string, kind: string) => errorsOf(ap({ targetRef: { group, kind, name: 'n' } }));
    expect(target('', 'Service')).to.deep.equal([]);
    expect(target('core', 'Service')).to.deep.equal([]);
    expect(target('networking.istio.io', 'ServiceEntry')).to.deep.equal([]);
    expect(target('gateway.networking.k8s.io', 'Gateway')).to.deep.equal([]);
    expect(target('gateway.networking.k8s.io', 'HTTPRoute')[0]).to.include('targetRef must refer to one of');
    expect(target('', 'ServiceEntry')[0]).to.include('targetRef must refer to one of');
  });
});
