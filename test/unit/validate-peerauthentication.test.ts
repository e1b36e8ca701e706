// PeerAuthentication validation: the rules that are easy to get subtly wrong (crds/testdata is checked for every
// kind in validate-testdata.test.ts).
import { expect } from 'chai';
import type { PeerAuthentication } from '../../src/api/peerauthentication.ts';
import { validatePeerAuthentication } from '../../src/validate/peerauthentication.ts';
import { formatFinding } from '../../src/validate/result.ts';

const errorsOf = (obj: PeerAuthentication): string[] => validatePeerAuthentication(obj).errors.map(formatFinding);
const pa = (spec: PeerAuthentication['spec'], namespace = 'default'): PeerAuthentication => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name: 'x', namespace },
  spec,
});

describe('validate/peerauthentication', () => {
  it('allows portLevelMtls only in workload policies', () => {
    const ports = { '8080': { mode: 'DISABLE' as const } };
    expect(errorsOf(pa({ portLevelMtls: ports }))[0]).to.match(/^spec\.portLevelMtls: portLevelMtls requires selector/);
    expect(errorsOf(pa({ selector: { matchLabels: {} }, portLevelMtls: ports }))).to.have.length(1);
    expect(errorsOf(pa({ selector: { matchLabels: { app: 'a' } }, portLevelMtls: ports }))).to.deep.equal([]);
  });

  it('takes port keys 1-65535 written in decimal only', () => {
    const check = (key: string) => errorsOf(pa({ selector: { matchLabels: { app: 'a' } }, portLevelMtls: { [key]: { mode: 'STRICT' } } }));
    for (const ok of ['1', '80', '65535']) expect(check(ok), ok).to.deep.equal([]);
    for (const bad of ['0', '65536', '1e3', '0x50', ' 80', '8080.0', '']) {
      expect(check(bad).join(), bad).to.include('portLevelMtls keys must be port numbers between 1-65535');
    }
  });

  it('warns about policies that change nothing, but accepts them', () => {
    const r = validatePeerAuthentication(pa({}));
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings.map((w) => w.message).join()).to.include('changes nothing');
    expect(validatePeerAuthentication(pa({ mtls: { mode: 'STRICT' } })).warnings).to.deep.equal([]);
  });

  it('warns when a mesh-wide policy turns mTLS off', () => {
    const meshWide = validatePeerAuthentication(pa({ mtls: { mode: 'DISABLE' } }, 'istio-system'), { rootNamespace: 'istio-system' });
    expect(meshWide.errors).to.deep.equal([]);
    expect(meshWide.warnings.map((w) => w.message).join()).to.include('mesh-wide');
    const namespaced = validatePeerAuthentication(pa({ mtls: { mode: 'DISABLE' } }, 'default'), { rootNamespace: 'istio-system' });
    expect(namespaced.warnings).to.deep.equal([]);
  });

  it('warns about a selector without labels, as it selects every workload', () => {
    const r = validatePeerAuthentication(pa({ selector: {}, mtls: { mode: 'STRICT' } }));
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings[0]?.field).to.equal('spec.selector');
  });
});
