import { expect } from 'chai';
import { MESH_KINDS } from '../../src/api/kinds.ts';
import { isIstioGroup, unsupportedIstioKind, UNSUPPORTED_ISTIO_KINDS } from '../../src/validate/istio-kinds.ts';

describe('validate/istio-kinds (Istio kinds weft does not support)', () => {
  it('knows Istio\'s API groups', () => {
    expect(['networking.istio.io', 'security.istio.io', 'telemetry.istio.io', 'extensions.istio.io', 'install.istio.io'].every(isIstioGroup)).to.equal(true);
    expect(['', 'apps', 'gateway.networking.k8s.io', 'istio.io.example.com', 'notistio.io'].some(isIstioGroup)).to.equal(false);
  });

  it('names Istio\'s kinds weft lacks, and none it serves', () => {
    expect(UNSUPPORTED_ISTIO_KINDS.map((k) => k.kind)).to.include.members(['EnvoyFilter', 'Telemetry', 'WasmPlugin', 'ProxyConfig', 'WorkloadGroup']);
    for (const k of UNSUPPORTED_ISTIO_KINDS) expect(MESH_KINDS.some((m) => m.group === k.group && m.kind === k.kind), k.kind).to.equal(false);
  });

  it('says "not supported by weft" for those kinds and unknown ones of Istio\'s groups only', () => {
    expect(unsupportedIstioKind('telemetry.istio.io/v1', 'Telemetry')).to.match(/^Istio's Telemetry \(telemetry.istio.io\/v1\) is not supported by weft/);
    expect(unsupportedIstioKind('networking.istio.io/v1', 'Frobnicator')).to.match(/"Frobnicator" of Istio's API group networking.istio.io .* is not supported by weft/);
    expect(unsupportedIstioKind('networking.istio.io/v1', 'VirtualService')).to.equal(undefined);
    expect(unsupportedIstioKind('security.istio.io/v1beta1', 'AuthorizationPolicy')).to.equal(undefined);
    expect(unsupportedIstioKind('apps/v1', 'Deployment')).to.equal(undefined);
    expect(unsupportedIstioKind('v1', 'Service')).to.equal(undefined);
  });
});
