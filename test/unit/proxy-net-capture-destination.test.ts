// The capture listeners' loop guard, decided from what SO_ORIGINAL_DST answered and the accepted socket's local
// side: a connection that was not redirected is refused whether the kernel answered an error (no conntrack) or the
// connection's own local address (conntrack loaded, as on every node running kube-proxy).
import { expect } from 'chai';
import { captureDestination } from '../../src/proxy/net/capture-destination.ts';

const PORTS = new Set([15001, 15006]);
const notFound = Object.assign(new Error('getsockopt(SO_ORIGINAL_DST): No such file or directory'), { code: 'E_ORIGINAL_DST_2' });

describe('proxy net: capture destination (loop guard)', () => {
  it('refuses a connection whose lookup failed (not redirected, no conntrack)', () => {
    expect(captureDestination(notFound, { address: '10.0.0.5', port: 15006 }, PORTS))
      .to.deep.equal({ kind: 'refused', reason: 'not-redirected', destination: '10.0.0.5:15006' });
  });

  it('refuses a connection whose original destination is its own local address and port (conntrack loaded)', () => {
    expect(captureDestination({ address: '10.0.0.5', port: 15006 }, { address: '::ffff:10.0.0.5', port: 15006 }, PORTS))
      .to.deep.include({ kind: 'refused', reason: 'not-redirected' });
    expect(captureDestination({ address: 'fd00::5', port: 15001 }, { address: 'fd00::5', port: 15001 }, PORTS))
      .to.deep.equal({ kind: 'refused', reason: 'not-redirected', destination: '[fd00::5]:15001' });
    // Whatever port the listener has (an ephemeral one in tests is not among the capture ports).
    expect(captureDestination({ address: '127.0.0.1', port: 40123 }, { address: '127.0.0.1', port: 40123 }, PORTS))
      .to.deep.include({ kind: 'refused', reason: 'not-redirected' });
  });

  it('proxies a redirected connection to its own pod address on another port (an app calling itself)', () => {
    expect(captureDestination({ address: '10.0.0.5', port: 8080 }, { address: '10.0.0.5', port: 15006 }, PORTS))
      .to.deep.equal({ kind: 'redirected', ip: '10.0.0.5', port: 8080 });
    expect(captureDestination({ address: '10.96.0.10', port: 80 }, { address: '127.0.0.1', port: 15001 }, PORTS))
      .to.deep.equal({ kind: 'redirected', ip: '10.96.0.10', port: 80 });
  });

  it('refuses a redirected connection headed for a capture port of this proxy', () => {
    expect(captureDestination({ address: '127.0.0.1', port: 15006 }, { address: '127.0.0.1', port: 15001 }, PORTS))
      .to.deep.include({ kind: 'refused', reason: 'capture-port' });
    expect(captureDestination({ address: '10.0.0.5', port: 15001 }, { address: '10.0.0.5', port: 15006 }, PORTS))
      .to.deep.include({ kind: 'refused', reason: 'capture-port' });
  });
});
