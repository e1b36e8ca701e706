// The local node's ClusterIP rules as text: one chain per Service port with ready endpoints, picked uniformly
// (1/n, then 1/(n-1)… of what is left), not-ready endpoints and headless or IPv6 Services left out.
import { expect } from 'chai';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { renderRules } from '../../hack/local-cluster/node/service-proxy.ts';

const svc = (name: string, clusterIP: string, ports: Array<{ name?: string; port: number }>): V1Service => ({ metadata: { name, namespace: 'ns' }, spec: { clusterIP, ports } });
const slice = (service: string, port: { name?: string; port: number }, endpoints: Array<[string, boolean]>): V1EndpointSlice => ({
  metadata: { name: `${service}-x`, namespace: 'ns', labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4',
  ports: [port],
  endpoints: endpoints.map(([a, ready]) => ({ addresses: [a], conditions: { ready } })),
});

describe('local node service proxy rules', () => {
  it('DNATs a ClusterIP port to its ready endpoints, each with an equal chance', () => {
    const rules = renderRules(
      [svc('web', '10.96.0.10', [{ name: 'http', port: 80 }]), svc('headless', 'None', [{ port: 80 }]), svc('v6', 'fd00::1', [{ port: 80 }])],
      [slice('web', { name: 'http', port: 9080 }, [['10.244.0.3', true], ['10.244.0.2', true], ['10.244.0.4', true], ['10.244.0.9', false]])],
    ).split('\n');
    const jump = rules.find((r) => r.startsWith('-A WEFT-SERVICES -d 10.96.0.10/32'))!;
    const chain = jump.split(' -j ')[1]!;
    expect(rules.filter((r) => r.startsWith(`-A ${chain} `))).to.deep.equal([
      `-A ${chain} -p tcp -m statistic --mode random --probability 0.33333 -j DNAT --to-destination 10.244.0.2:9080`,
      `-A ${chain} -p tcp -m statistic --mode random --probability 0.50000 -j DNAT --to-destination 10.244.0.3:9080`,
      `-A ${chain} -p tcp -j DNAT --to-destination 10.244.0.4:9080`,
    ]);
    expect(rules.filter((r) => r.startsWith('-A WEFT-SERVICES'))).to.have.length(1);
    expect(rules).to.include('-A POSTROUTING -m conntrack --ctstate DNAT -j MASQUERADE');
    expect(rules.at(-2)).to.equal('COMMIT');
  });

  it('leaves out a port without ready endpoints, so nothing is rewritten for it', () => {
    const rules = renderRules([svc('down', '10.96.0.11', [{ name: 'http', port: 80 }])], [slice('down', { name: 'http', port: 9080 }, [['10.244.0.5', false]])]);
    expect(rules).not.to.include('10.96.0.11');
  });
});
