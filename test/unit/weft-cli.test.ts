// `weft operator` flags: defaults, the webhook switches, the outbound traffic policy, and usage errors.
import { expect } from 'chai';
import { parseOperatorArgs } from '../../src/cli/weft.ts';

describe('weft operator flags', () => {
  it('defaults to leader election and a webhook on 0.0.0.0:9443 in weft-system', () => {
    expect(parseOperatorArgs([])).to.deep.include({
      namespace: 'weft-system', rootNamespace: 'weft-system', leaderElect: true, leaseName: 'weft-operator', workers: 4,
      webhook: { host: '0.0.0.0', port: 9443 }, outboundTrafficPolicy: 'ALLOW_ANY',
    });
    expect(parseOperatorArgs(['--outbound-traffic-policy', 'REGISTRY_ONLY']).outboundTrafficPolicy).to.equal('REGISTRY_ONLY');
  });
  it('takes webhook host and port, and turns the webhook off', () => {
    expect(parseOperatorArgs(['--webhook-host', '127.0.0.1', '--webhook-port', '8443']).webhook).to.deep.equal({ host: '127.0.0.1', port: 8443 });
    expect(parseOperatorArgs(['--webhook=false']).webhook).to.equal(undefined);
    expect(parseOperatorArgs(['--webhook', '--leader-elect=false'])).to.deep.include({ leaderElect: false, webhook: { host: '0.0.0.0', port: 9443 } });
  });
  it('refuses bad values with a message naming the flag', () => {
    expect(() => parseOperatorArgs(['--webhook-port', '70000'])).to.throw(/--webhook-port/);
    expect(() => parseOperatorArgs(['--webhook=maybe'])).to.throw(/--webhook must be true or false/);
    expect(() => parseOperatorArgs(['--workers', '0'])).to.throw(/--workers/);
    expect(() => parseOperatorArgs(['--bogus'])).to.throw(/bogus/);
    expect(() => parseOperatorArgs(['--outbound-traffic-policy=registry'])).to.throw(/--outbound-traffic-policy must be ALLOW_ANY or REGISTRY_ONLY/);
  });
});
