// WorkloadEntry validation: the address forms and the checks ServiceEntry endpoints share (crds/testdata is
// checked for every kind in validate-testdata.test.ts).
import { expect } from 'chai';
import type { WorkloadEntry, WorkloadEntrySpec } from '../../src/api/workloadentry.ts';
import { Findings, formatFinding } from '../../src/validate/result.ts';
import { checkServiceAccountName, checkWorkloadEntrySpec, validateWorkloadEntry } from '../../src/validate/workloadentry.ts';
import type { EndpointContext } from '../../src/validate/workloadentry.ts';

const errorsOf = (obj: WorkloadEntry): string[] => validateWorkloadEntry(obj).errors.map(formatFinding);
const we = (spec: WorkloadEntrySpec): WorkloadEntry => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'WorkloadEntry',
  metadata: { name: 'x', namespace: 'default' },
  spec,
});
const endpoint = (spec: WorkloadEntrySpec, ctx: EndpointContext): string[] => {
  const f = new Findings();
  checkWorkloadEntrySpec(spec, 'spec.endpoints[0]', f, ctx);
  return f.errors.map(formatFinding);
};

describe('validate/workloadentry', () => {
  it('takes an IP, a DNS name or a unix socket as the address', () => {
    for (const address of ['10.0.0.1', 'fe80::1', 'vm.corp.example', 'vm', 'unix:///run/a.sock', 'unix://@abstract']) {
      expect(errorsOf(we({ address })), address).to.deep.equal([]);
    }
    for (const address of ['unix://', 'unix:///run/', 'unix://run/a.sock', '10.0.0.1:80', 'http://vm.example', '1.2.3.4.5']) {
      expect(errorsOf(we({ address })), address).to.have.length(1);
    }
  });

  it('needs an address unless the workload is on another network, and then warns', () => {
    expect(errorsOf(we({}))[0]).to.match(/^spec\.address: Address is required/);
    const remote = validateWorkloadEntry(we({ network: 'n2' }));
    expect(remote.errors).to.deep.equal([]);
    expect(remote.warnings[0]?.field).to.equal('spec.address');
  });

  it('refuses ports on a unix socket, even an empty map', () => {
    expect(errorsOf(we({ address: 'unix:///run/a.sock', ports: {} }))[0]).to.include('UDS may not include ports');
  });

  it('reports each bad port under its name', () => {
    expect(errorsOf(we({ address: '10.0.0.1', ports: { http: 80, 'bad_name': 81, grpc: 0 } }))).to.deep.equal([
      'spec.ports[bad_name]: port name must be valid: "bad_name" is not a DNS label (letters, digits and \'-\', at most 63)',
      'spec.ports[grpc]: port must be between 1-65535 (got 0)',
    ]);
  });

  it('applies the context of a ServiceEntry endpoint', () => {
    const ports = new Set(['http']);
    expect(endpoint({ address: 'vm.example.com' }, { addresses: 'dns', servicePorts: ports })).to.deep.equal([]);
    expect(endpoint({ address: 'vm.example.com' }, { addresses: 'static', servicePorts: ports })[0]).to.include('STATIC resolution needs IPs');
    expect(endpoint({ address: 'unix:///a.sock' }, { addresses: 'static', servicePorts: new Set(['a', 'b']) })[0]).to.include('exactly one service port');
    expect(endpoint({ address: '10.0.0.1', ports: { grpc: 9090 } }, { addresses: 'static', servicePorts: ports })[0]).to.include('not defined by the service entry');
  });

  it('checks service account names as Kubernetes does', () => {
    expect(checkServiceAccountName('default')).to.equal(undefined);
    expect(checkServiceAccountName('billing.payments-v2')).to.equal(undefined);
    expect(checkServiceAccountName('Billing')).to.match(/not a valid name/);
    expect(checkServiceAccountName('a'.repeat(254))).to.match(/not a valid name/);
  });
});
