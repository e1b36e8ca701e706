// What status says about AuthorizationPolicies and RequestAuthentications: "enforced by K/N workloads" counted
// against the workloads they select, IST0127 when they select no workload with a sidecar, targetRef policies not
// enforced, CUSTOM policies with a missing provider or an HTTP authorizer on TCP ports, JWKS fetch failures; and
// what the operator says about a mesh config and how it merges it with its flags.
import { expect } from 'chai';
import { buildStatus } from '../../src/controllers/conditions.ts';
import { policyCoverage, policyFindings } from '../../src/controllers/distribution/policy-coverage.ts';
import { programmedCondition, programmedStates, type Outcome } from '../../src/controllers/distribution/programmed.ts';
import { configObjects } from '../../src/controllers/distribution/snapshot-index.ts';
import { MeshSettings } from '../../src/controllers/mesh/settings.ts';
import { meshConfigVerdict } from '../../src/controllers/mesh/verdict.ts';
import { resolveRefs, type MeshView } from '../../src/controllers/refs.ts';
import type { AuthorizationPolicy, RequestAuthentication } from '../../src/api/index.ts';
import type { ExtensionProvider, JwksFetch, Workload } from '../../src/model/types.ts';
import { app, namespace, snapshotOf } from '../support/mesh-fixtures.ts';

const INJECTED = { 'weft-injection': 'enabled' };
const ap = (name: string, ns: string, spec: Record<string, unknown>): AuthorizationPolicy =>
  ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: ns, generation: 1 }, spec }) as AuthorizationPolicy;
const ra = (name: string, ns: string, spec: Record<string, unknown>): RequestAuthentication =>
  ({ apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name, namespace: ns, generation: 1 }, spec }) as RequestAuthentication;

const providers: ExtensionProvider[] = [
  { name: 'opa', envoyExtAuthzHttp: { service: 'opa.authz.svc.cluster.local', port: 8181 } },
  { name: 'grpc', envoyExtAuthzGrpc: { service: 'authz.authz.svc.cluster.local', port: 9000 } },
  { name: 'zipkin', zipkin: { service: 'zipkin', port: 9411 } },
];

function mesh() {
  return snapshotOf(
    app('reviews', 'bookinfo', { port: 9080 }),
    app('db', 'bookinfo', { ports: [{ name: 'tcp-db', port: 5432 }] }),
    app('legacy', 'plain', { port: 80 }),
    {
      namespaces: [namespace('bookinfo', INJECTED), namespace('plain')],
      options: { extensionProviders: providers },
      config: {
        authorizationPolicies: [
          ap('reviews-only', 'bookinfo', { selector: { matchLabels: { app: 'reviews' } }, rules: [{}] }),
          ap('whole-ns', 'bookinfo', { rules: [{}] }),
          ap('mesh-wide', 'weft-system', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] }),
          ap('plain-only', 'plain', { rules: [{}] }),
          ap('waypoint', 'bookinfo', { targetRefs: [{ kind: 'Service', group: '', name: 'reviews' }], rules: [{}] }),
          ap('ext', 'bookinfo', { action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] }),
        ],
        requestAuthentications: [ra('jwt', 'bookinfo', { selector: { matchLabels: { app: 'nothing' } }, jwtRules: [{ issuer: 'x', jwksUri: 'https://x/keys' }] })],
      },
    },
  );
}

const distributed = (w: Workload): boolean => w.injected;

describe('controllers: policy status', () => {
  it('policies cover the workloads with a sidecar they select; targetRef policies nothing', () => {
    const cov = policyCoverage(mesh(), 'weft-system', distributed);
    expect(Object.fromEntries(cov)).to.deep.equal({
      'AuthorizationPolicy/bookinfo/ext': { kind: 'selector', selected: ['bookinfo/db-v1', 'bookinfo/reviews-v1'] },
      'AuthorizationPolicy/bookinfo/reviews-only': { kind: 'selector', selected: ['bookinfo/reviews-v1'] },
      'AuthorizationPolicy/bookinfo/waypoint': { kind: 'targetRef', field: 'spec.targetRefs' },
      'AuthorizationPolicy/bookinfo/whole-ns': { kind: 'selector', selected: ['bookinfo/db-v1', 'bookinfo/reviews-v1'] },
      'AuthorizationPolicy/plain/plain-only': { kind: 'selector', selected: [] },
      'AuthorizationPolicy/weft-system/mesh-wide': { kind: 'selector', selected: ['bookinfo/db-v1', 'bookinfo/reviews-v1'] },
      'RequestAuthentication/bookinfo/jwt': { kind: 'selector', selected: [] },
    });
  });

  it('finds IST0127 for policies selecting no sidecar, and an HTTP authorizer on TCP ports', () => {
    const snap = mesh();
    const f = policyFindings(snap, policyCoverage(snap, 'weft-system', distributed));
    expect(Object.fromEntries(f)).to.deep.equal({
      'AuthorizationPolicy/plain/plain-only': [{ field: 'spec', message: 'No matching workloads with a sidecar for this resource: it is enforced nowhere', code: 'IST0127' }],
      'RequestAuthentication/bookinfo/jwt': [{ field: 'spec.selector.matchLabels', message: 'No matching workloads with a sidecar for this resource: it is enforced nowhere', code: 'IST0127' }],
      'AuthorizationPolicy/bookinfo/ext': [{
        field: 'spec.provider.name',
        message: 'extension provider "opa" is an HTTP authorizer (envoyExtAuthzHttp), which cannot check TCP traffic: the policy cannot be applied on the TCP ports of bookinfo/db-v1 (port 5432)',
        code: 'WEFT0003',
      }],
    });
  });

  it('Programmed reads "enforced by K/N workloads", counting selected workloads whose written config lacks the policy', () => {
    const snap = mesh();
    const cov = policyCoverage(snap, 'weft-system', distributed);
    const users = new Map([
      ['AuthorizationPolicy/bookinfo/whole-ns', new Set(['bookinfo/db-v1', 'bookinfo/reviews-v1'])],
      ['AuthorizationPolicy/weft-system/mesh-wide', new Set(['bookinfo/reviews-v1'])],
      ['AuthorizationPolicy/bookinfo/reviews-only', new Set(['bookinfo/reviews-v1'])],
    ]);
    const outcomes: Record<string, Outcome> = { 'bookinfo/reviews-v1': { kind: 'written' }, 'bookinfo/db-v1': { kind: 'written' } };
    const states = programmedStates(configObjects(snap), new Map(), users, (w) => outcomes[w], cov);
    const cond = (k: string) => programmedCondition(states.get(k)!);
    expect(cond('AuthorizationPolicy/bookinfo/whole-ns')).to.deep.include({ status: 'True', reason: 'Programmed', message: 'enforced by 2/2 workloads' });
    expect(cond('AuthorizationPolicy/bookinfo/reviews-only')).to.deep.include({ status: 'True', reason: 'Programmed', message: 'enforced by 1/1 workloads' });
    expect(cond('AuthorizationPolicy/weft-system/mesh-wide')).to.deep.include({
      status: 'False', reason: 'NotEnforced', message: 'enforced by 1/2 workloads; the config of bookinfo/db-v1 does not carry it',
    });
    expect(cond('AuthorizationPolicy/plain/plain-only')).to.deep.include({
      status: 'True', reason: 'NoWorkloads', message: 'enforced by 0/0 workloads: it selects no workload with a sidecar',
    });
    expect(cond('AuthorizationPolicy/bookinfo/waypoint')).to.deep.include({
      status: 'False', reason: 'NotSupported',
      message: 'not enforced: spec.targetRefs attaches the policy to waypoints or Gateway API gateways, which weft does not run (use spec.selector)',
    });
    // Still being written: Pending, not NotEnforced.
    const pending = programmedStates(configObjects(snap), new Map(), users, () => ({ kind: 'pending' }), cov);
    expect(programmedCondition(pending.get('AuthorizationPolicy/bookinfo/whole-ns')!)).to.deep.include({ status: 'False', reason: 'Pending', message: 'enforced by 0/2 workloads' });
    // Other kinds keep their wording.
    expect(programmedCondition(programmedStates(configObjects(snap), new Map(), new Map(), () => undefined).get('AuthorizationPolicy/bookinfo/whole-ns')!).message)
      .to.equal('written to 0/0 workloads');
  });

  it('mesh-wide IST0127 and WEFT0003 are warnings; refs and analysis saying the same are listed once', () => {
    const f = { field: 'spec.selector.matchLabels', message: 'No matching workloads with a sidecar for this resource: it is enforced nowhere', code: 'IST0127' };
    const none = { errors: [], warnings: [] };
    const s = buildStatus({ generation: 1, previous: undefined, validation: none, refs: { errors: [], warnings: [f] }, now: new Date(), analysis: [f] });
    expect(s.validationMessages).to.deep.equal([{ type: { code: 'IST0127', name: 'NoMatchingWorkloadsFound' }, level: 'WARNING', message: f.message, field: f.field }]);
    const kept = buildStatus({ generation: 1, previous: s, validation: none, refs: { errors: [], warnings: [f] }, now: new Date() });
    expect(kept.validationMessages).to.have.length(1);
  });
});

describe('controllers: references to the mesh config and fetched keys', () => {
  const view = (jwks: Record<string, JwksFetch> = {}, ps: ExtensionProvider[] | undefined = providers): MeshView => ({
    rootNamespace: 'weft-system',
    hasGateway: () => false, hasVirtualService: () => false, hasService: () => true,
    serviceEntryHosts: () => [], destinationRules: () => [], workloadLabels: () => [{ app: 'x' }],
    extensionProviders: () => ps,
    jwks: (uri) => jwks[uri],
  });

  it('a CUSTOM policy naming a provider the mesh config lacks (or one that is no authorizer) fails closed, and says so', () => {
    const missing = resolveRefs(ap('a', 'ns', { action: 'CUSTOM', provider: { name: 'nope' }, rules: [{}] }), view());
    expect(missing.errors).to.deep.equal([{
      field: 'spec.provider.name', code: 'IST0101',
      message: 'extension provider "nope" is not in the mesh config (extensionProviders of ConfigMap weft in the root namespace): requests this policy selects are denied (fails closed)',
    }]);
    const tracing = resolveRefs(ap('a', 'ns', { action: 'CUSTOM', provider: { name: 'zipkin' }, rules: [{}] }), view());
    expect(tracing.errors[0]!.message).to.match(/^extension provider "zipkin" is a zipkin provider, not an authorizer/);
    expect(resolveRefs(ap('a', 'ns', { action: 'CUSTOM', provider: { name: 'grpc' }, rules: [{}] }), view()).errors).to.deep.equal([]);
    const unreachable = resolveRefs(ap('a', 'ns', { action: 'CUSTOM', provider: { name: 'grpc' }, rules: [{}] }), { ...view(), hasService: () => false });
    expect(unreachable.errors[0]!.message).to.equal('extension provider "grpc" names service "authz.authz.svc.cluster.local", which no Service or ServiceEntry declares: '
      + 'the authorizer cannot be reached and requests this policy selects are answered with 403 (statusOnError)');
    const s = buildStatus({ generation: 1, previous: undefined, validation: { errors: [], warnings: [] }, refs: missing, now: new Date() });
    expect(s.conditions![1]).to.include({ type: 'ResolvedRefs', status: 'False', reason: 'ReferencedResourceNotFound' });
  });

  it('a jwksUri whose keys could not be fetched makes ResolvedRefs False (JwksFetchFailed) with the URI and error', () => {
    const uri = 'https://issuer.example/keys';
    const r = resolveRefs(ra('r', 'ns', { jwtRules: [{ issuer: 'a', jwks: '{"keys":[]}' }, { issuer: 'b', jwksUri: uri }] }), view({ [uri]: { error: 'HTTP 503 from https://issuer.example/keys' } }));
    expect(r.errors).to.deep.equal([{
      field: 'spec.jwtRules[1].jwksUri', code: 'WEFT0002',
      message: 'keys could not be fetched from "https://issuer.example/keys": HTTP 503 from https://issuer.example/keys; requests with a token of this issuer are rejected until they are',
    }]);
    const s = buildStatus({ generation: 1, previous: undefined, validation: { errors: [], warnings: [] }, refs: r, now: new Date() });
    expect(s.conditions![1]).to.include({ type: 'ResolvedRefs', status: 'False', reason: 'JwksFetchFailed' });
    expect(s.validationMessages![0]!.type).to.deep.equal({ code: 'WEFT0002', name: 'JwksFetchFailed' });
    expect(resolveRefs(ra('r', 'ns', { jwtRules: [{ issuer: 'b', jwksUri: uri }] }), view({ [uri]: { keys: '{"keys":[]}' } })).errors).to.deep.equal([]);
  });
});

describe('controllers: mesh config verdict and settings', () => {
  it('says Applied, Applied with warnings, or Invalid with the fields (keeping the last valid config)', () => {
    expect(meshConfigVerdict({ errors: [], warnings: [] })).to.deep.equal({
      valid: true, annotation: 'Applied', event: { type: 'Normal', reason: 'MeshConfigApplied', message: 'mesh config applied' },
    });
    const w = meshConfigVerdict({ errors: [], warnings: [{ field: 'foo', message: 'unknown field: ignored' }] });
    expect(w.annotation).to.equal('Applied with warnings: foo: unknown field: ignored');
    expect(w.event.type).to.equal('Warning');
    const bad = meshConfigVerdict({ errors: [{ field: 'outboundTrafficPolicy.mode', message: 'must be ALLOW_ANY or REGISTRY_ONLY, not "X"' }], warnings: [] });
    expect(bad).to.deep.include({ valid: false, annotation: 'Invalid: outboundTrafficPolicy.mode: must be ALLOW_ANY or REGISTRY_ONLY, not "X"; the operator keeps the last valid mesh config' });
    expect(bad.event).to.include({ type: 'Warning', reason: 'InvalidMeshConfig' });
  });

  it('the mesh config overrides the flags; the root namespace and trust domain stay the operator\'s', () => {
    const s = new MeshSettings({ rootNamespace: 'weft-system', outboundTrafficPolicy: 'REGISTRY_ONLY' });
    expect(s.options()).to.deep.equal({ outboundTrafficPolicy: 'REGISTRY_ONLY', rootNamespace: 'weft-system', jwks: {} });
    const first = s.options();
    expect(s.options()).to.equal(first);
    const r = s.applyConfig({ outboundTrafficPolicy: 'ALLOW_ANY', rootNamespace: 'other', trustDomain: 'example.org', pathNormalization: 'NONE' });
    expect(r.changed).to.equal(true);
    expect(r.fixed).to.have.length(2);
    expect(s.options()).to.deep.equal({ outboundTrafficPolicy: 'ALLOW_ANY', pathNormalization: 'NONE', rootNamespace: 'weft-system', jwks: {} });
    expect(s.applyConfig({ outboundTrafficPolicy: 'ALLOW_ANY', pathNormalization: 'NONE' }).changed).to.equal(false);
    expect(s.applyConfig({}).changed).to.equal(true);
    expect(s.options().outboundTrafficPolicy).to.equal('REGISTRY_ONLY');
    s.setJwks({ 'https://x': { keys: '{"keys":[]}' } });
    expect(s.options().jwks).to.deep.equal({ 'https://x': { keys: '{"keys":[]}' } });
  });
});
