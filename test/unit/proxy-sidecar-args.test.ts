// `weft proxy` flags: the contract's defaults (the gateway credentials directory among them), repeatable --explicit listeners (IPv4 and bracketed IPv6),
// durations, `--flag=value` and `--flag value` forms, and usage errors for malformed values.
import { expect } from 'chai';
import { parseDuration, parseProxyArgs } from '../../src/cli/proxy-cmd.ts';

class Usage extends Error {}
const usage = (m: string) => new Usage(m);
const parse = (...argv: string[]) => parseProxyArgs(argv, usage);

describe('weft proxy: flags', () => {
  it('has the contract defaults', () => {
    expect(parse()).to.deep.equal({
      configDir: '/etc/weft/proxy',
      identityDir: '/etc/weft/identity',
      credentialsDir: '/etc/weft/credentials',
      admin: { host: '127.0.0.1', port: 15000 },
      capture: 'iptables',
      outboundPort: 15001,
      inboundPort: 15006,
      explicit: [],
      gateway: false,
      logLevel: 'info',
      accessLog: 'stdout',
      drainTimeoutMs: 5000,
    });
  });

  it('parses every flag', () => {
    const a = parse(
      '--config-dir', '/c', '--identity-dir=/i', '--credentials-dir', '/k', '--admin', '127.0.0.1:0', '--capture', 'none', '--outbound-port', '25001', '--inbound-port=25006',
      '--explicit', '127.0.0.1:8080=outbound:10.96.0.5:80', '--explicit=[::1]:9090=inbound:[fd00::1]:9080',
      '--log-level', 'debug', '--access-log', 'off', '--drain-timeout', '250ms', '--prometheus', '0.0.0.0:15090',
    );
    expect(a.prometheus).to.deep.equal({ host: '0.0.0.0', port: 15090 });
    expect(a).to.deep.include({
      configDir: '/c', identityDir: '/i', credentialsDir: '/k', admin: { host: '127.0.0.1', port: 0 }, capture: 'none', outboundPort: 25001, inboundPort: 25006,
      logLevel: 'debug', accessLog: 'off', drainTimeoutMs: 250,
    });
    expect(a.explicit).to.deep.equal([
      { bindHost: '127.0.0.1', bindPort: 8080, direction: 'outbound', destinationIp: '10.96.0.5', destinationPort: 80 },
      { bindHost: '::1', bindPort: 9090, direction: 'inbound', destinationIp: 'fd00::1', destinationPort: 9080 },
    ]);
  });

  it('makes --gateway imply no capture unless --capture is given', () => {
    expect(parse('--gateway')).to.deep.include({ gateway: true, capture: 'none' });
    expect(parse('--gateway', '--capture', 'iptables')).to.deep.include({ gateway: true, capture: 'iptables' });
  });

  it('reads durations', () => {
    expect([parseDuration('5s'), parseDuration('500ms'), parseDuration('1m'), parseDuration('1.5s'), parseDuration('2'), parseDuration('5x')])
      .to.deep.equal([5000, 500, 60000, 1500, 2000, undefined]);
  });

  it('refuses malformed values', () => {
    for (const argv of [
      ['--capture', 'ebpf'], ['--admin', 'localhost'], ['--outbound-port', '70000'], ['--explicit', '127.0.0.1:80=sideways:1.2.3.4:80'],
      ['--explicit', '127.0.0.1:80'], ['--drain-timeout', 'soon'], ['--access-log', 'file'], ['--log-level', 'loud'], ['--bogus'], ['--gateway=yes'],
      ['--config-dir'], ['--credentials-dir'], ['--prometheus', '15090'],
    ]) {
      expect(() => parse(...argv), argv.join(' ')).to.throw(Usage);
    }
  });
});
