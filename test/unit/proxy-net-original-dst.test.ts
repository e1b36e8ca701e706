// The SO_ORIGINAL_DST addon against real iptables REDIRECT rules in a network namespace: a connection to a fake
// IPv4 or IPv6 destination lands on the capture port, and the addon reports the fake destination; a connection
// that was not redirected gets an error or its own address, depending on whether conntrack is loaded.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { captureDestination } from '../../src/proxy/net/capture-destination.ts';
import { originalDestination, socketFd } from '../../src/proxy/net/original-dst.ts';
import { prepareNetns } from '../support/proxy-netns.ts';
import type { Netns } from '../support/proxy-netns.ts';

describe('proxy net: SO_ORIGINAL_DST addon', function () {
  this.timeout(120_000);
  let ns: Netns | undefined;

  before(function () {
    execFileSync('bash', ['hack/build-addon.sh'], { stdio: ['ignore', 'ignore', 'inherit'] });
  });
  after(() => ns?.remove());

  it('answers an error or the connection\'s own local address (never a crash) for one that was not redirected', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const accepted = new Promise<Socket>((r) => server.once('connection', r));
    const client = connect(port, '127.0.0.1');
    const socket = await accepted;
    expect(socketFd(socket)).to.be.a('number');
    // Without connection tracking the kernel has no entry (ENOENT); with conntrack loaded (kube-proxy loads it on
    // every node) the entry is the connection's own, unchanged destination.
    let answer: { address: string; port: number; family: string } | Error;
    try {
      answer = originalDestination(socket);
      expect(answer).to.deep.equal({ address: '127.0.0.1', port, family: 'IPv4' });
    } catch (e) {
      answer = e as Error;
      expect(answer.message).to.match(/SO_ORIGINAL_DST/);
    }
    // Either way the capture listener's guard reads it as not redirected.
    expect(captureDestination(answer, { address: socket.localAddress, port: socket.localPort }, new Set([15001, 15006])))
      .to.deep.include({ kind: 'refused', reason: 'not-redirected' });
    client.destroy();
    socket.destroy();
    server.close();
  });

  it('reports the fake IPv4 and IPv6 destinations a nat OUTPUT REDIRECT rewrote', function () {
    const prepared = prepareNetns(`weft-odst-${process.pid}`);
    if ('skip' in prepared) this.skip(); // the reason is printed by prepareNetns
    ns = prepared;
    ns.iptables(['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', '198.51.100.7', '--dport', '8080', '-j', 'REDIRECT', '--to-ports', '15001']);
    ns.iptables(['-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', '2001:db8::7', '--dport', '9443', '-j', 'REDIRECT', '--to-ports', '15001'], true);
    const out = ns.exec('node_modules/.bin/node', ['test/support/proxy-original-dst-probe.ts', '15001', '198.51.100.7:8080', '[2001:db8::7]:9443']);
    expect(JSON.parse(out)).to.deep.equal([
      { address: '198.51.100.7', port: 8080, family: 'IPv4' },
      { address: '2001:db8::7', port: 9443, family: 'IPv6' },
    ]);
  });
});
