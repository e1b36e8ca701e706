// Capture mode for real: inside a network namespace an iptables nat OUTPUT REDIRECT sends connections for a fake
// service address to port 15001, where startListeners reads the original destination with SO_ORIGINAL_DST, hands
// the connection to the listener bound to that port and proxies it to the echo server; a port without a listener
// falls to the capture listener's own chain (BlackHoleCluster: closed); a direct connection to a capture port
// (not redirected: SO_ORIGINAL_DST answers the listener's own address, conntrack being loaded) is refused.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { prepareNetns } from '../support/proxy-netns.ts';
import type { Netns } from '../support/proxy-netns.ts';

describe('proxy net: capture listeners with iptables REDIRECT', function () {
  this.timeout(120_000);
  let ns: Netns | undefined;

  before(() => {
    execFileSync('bash', ['hack/build-addon.sh'], { stdio: ['ignore', 'ignore', 'inherit'] });
  });
  after(() => ns?.remove());

  it('proxies a redirected connection by its original destination and refuses loops', function () {
    const prepared = prepareNetns(`weft-capture-${process.pid}`);
    if ('skip' in prepared) this.skip(); // the reason is printed by prepareNetns
    ns = prepared;
    ns.iptables(['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', '198.51.100.1', '-j', 'RETURN']);
    ns.iptables(['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', '198.51.100.0/24', '-j', 'REDIRECT', '--to-ports', '15001']);
    const out = JSON.parse(ns.exec('node_modules/.bin/node', ['test/support/proxy-capture-probe.ts'])) as Record<string, unknown>;
    expect(out).to.deep.include({ service: 'db:hello', unknownPort: '', loop: '', ownOutbound: '', ownInbound: '', echoConnections: 1 });
    expect(out.records).to.deep.include({ cluster: 'db', flags: [], sent: 8, received: 5 });
    expect(out.records).to.deep.include({ cluster: 'BlackHoleCluster', flags: ['UH'], sent: 0, received: 0 });
  });
});
