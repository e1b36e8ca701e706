import { expect } from 'chai';
import { knownKinds, validatedKinds, validateResource, withNamespace } from '../../src/validate/index.ts';

const pa = (apiVersion: string, metadata: Record<string, unknown> = { name: 'default', namespace: 'shop' }, spec: unknown = { mtls: { mode: 'STRICT' } }) =>
  ({ apiVersion, kind: 'PeerAuthentication', metadata, spec });

describe('validate/index (registry)', () => {
  it('knows the eight kinds and has a validator for each', () => {
    expect([...knownKinds].sort()).to.deep.equal([
      'AuthorizationPolicy', 'DestinationRule', 'Gateway', 'PeerAuthentication', 'RequestAuthentication',
      'ServiceEntry', 'VirtualService', 'WorkloadEntry',
    ]);
    expect([...validatedKinds].sort()).to.deep.equal([...knownKinds].sort());
  });

  it('accepts every served version and refuses others', () => {
    expect(validateResource(pa('security.istio.io/v1')).errors).to.deep.equal([]);
    expect(validateResource(pa('security.istio.io/v1beta1')).errors).to.deep.equal([]);
    const e = validateResource(pa('security.istio.io/v1alpha3')).errors;
    expect(e.map((x) => x.field)).to.deep.equal(['apiVersion']);
    expect(e[0]!.message).to.match(/^Unsupported value: "security.istio.io\/v1alpha3"/);
  });

  it('dispatches to the kind validator', () => {
    const e = validateResource(pa('security.istio.io/v1', undefined, { mtls: { mode: 'ENABLED' } })).errors;
    expect(e.some((x) => x.field === 'spec.mtls.mode')).to.equal(true);
  });

  it('refuses unknown kinds, naming kind', () => {
    const e = validateResource({ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'x' } }).errors;
    expect(e).to.have.length(1);
    expect(e[0]!.field).to.equal('kind');
    expect(validateResource({ apiVersion: 'v1', metadata: { name: 'x' } }).errors.map((x) => x.field)).to.include('kind');
    // the right kind in the wrong group is unknown too
    expect(validateResource({ ...pa('networking.istio.io/v1') }).errors[0]!.field).to.equal('kind');
  });

  it('checks metadata like the API server', () => {
    const fields = (m: Record<string, unknown>) => validateResource(pa('security.istio.io/v1', m)).errors.map((x) => x.field);
    expect(fields({})).to.deep.equal(['metadata.name']);
    expect(fields({ generateName: 'pa-' })).to.deep.equal([]);
    expect(fields({ name: 'Upper' })).to.deep.equal(['metadata.name']);
    expect(fields({ name: 'a.b-c' })).to.deep.equal([]);
    expect(fields({ name: 'x'.repeat(254) })).to.deep.equal(['metadata.name']);
    expect(fields({ name: 'ok', namespace: 'Bad_NS' })).to.deep.equal(['metadata.namespace']);
    expect(fields({ name: 'ok', labels: { 'bad key!': 'v' } })).to.deep.equal(['metadata.labels.bad key!']);
  });

  it('gives an object without a namespace the request\'s, and leaves others alone', () => {
    const bare = pa('security.istio.io/v1', { name: 'p' });
    expect(withNamespace(bare, 'shop').metadata).to.deep.equal({ name: 'p', namespace: 'shop' });
    expect(bare.metadata).to.deep.equal({ name: 'p' });
    expect(withNamespace(pa('security.istio.io/v1', { name: 'p', namespace: 'web' }), 'shop').metadata?.namespace).to.equal('web');
    expect(withNamespace({ kind: 'X' }, 'shop').metadata).to.deep.equal({ namespace: 'shop' });
    expect(withNamespace(bare, undefined)).to.equal(bare);
    const odd = { kind: 'X', metadata: 'not an object' } as never;
    expect(withNamespace(odd, 'shop')).to.equal(odd);
  });
});
