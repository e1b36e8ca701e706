// weft-init's script run for real in a throwaway network namespace: the app's outbound TCP, IPv4 and IPv6, lands on
// 15001, an excluded port and the proxy's own UID go out uncaptured, the inbound chain skips the proxy's ports, and
// a second run (a restarted init container) leaves the same rules.
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { hostToolsBin } from '../../hack/local-cluster/node/host-tools.ts';
import { IPTABLES_SCRIPT, iptablesEnv } from '../../src/webhooks/inject-iptables.ts';
import { PROXY_PORTS } from '../../src/webhooks/inject-options.ts';
import { prepareNetns, type Netns } from '../support/proxy-netns.ts';

/** Runs inside the namespace: a stand-in proxy on 15001 and three connections to an address off the host. */
const PROBE = `
const net = require('node:net');
const srv = net.createServer((s) => s.end('captured')).listen(15001, '::', async () => {
  const attempt = (port, host = '10.99.0.9') => new Promise((done) => {
    const c = net.connect({ host, port });
    let data = '';
    c.setTimeout(300, () => { c.destroy(); done('not captured'); });
    c.on('data', (d) => (data += d));
    c.on('end', () => done(data));
    c.on('error', () => done('not captured'));
  });
  const out = { app: await attempt(5555), app6: await attempt(5555, 'fd99::9'), excluded: await attempt(6379) };
  process.setgid(1337);
  process.setuid(1337);
  out.proxy = await attempt(5555);
  console.log(JSON.stringify(out));
  srv.close();
});`;

describe('weft-init iptables script (webhooks/inject-iptables)', function () {
  this.timeout(60_000);
  let ns: Netns | undefined;
  let bin: string;

  before(function () {
    const r = prepareNetns(`weft-init-${process.pid}`);
    if ('skip' in r) this.skip(); // the reason is printed by prepareNetns
    ns = r;
    // A route off the host that is not loopback: loopback traffic is never captured.
    ns.exec('ip', ['link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    ns.exec('ip', ['link', 'set', 'v0', 'up']);
    ns.exec('ip', ['link', 'set', 'v1', 'up']);
    ns.exec('ip', ['addr', 'add', '10.99.0.1/24', 'dev', 'v0']);
    ns.exec('ip', ['addr', 'add', 'fd99::1/64', 'dev', 'v0', 'nodad']);
    bin = hostToolsBin();
  });

  after(() => ns?.remove());

  const runScript = () => {
    const env = Object.fromEntries(iptablesEnv([...PROXY_PORTS, 8443], [6379]).map((e) => [e.name, e.value]));
    ns!.exec('sh', ['-c', IPTABLES_SCRIPT], { ...process.env, ...env, PATH: `${bin}:${process.env.PATH ?? ''}` });
  };

  it('captures the app\'s outbound TCP on 15001, but not excluded ports nor the proxy\'s UID', () => {
    runScript();
    const out = execFileSync('ip', ['netns', 'exec', ns!.name, process.execPath, '-e', PROBE], { encoding: 'utf8', timeout: 20_000 });
    expect(JSON.parse(out)).to.deep.equal({ app: 'captured', app6: 'captured', excluded: 'not captured', proxy: 'not captured' });
  });

  it('sends inbound TCP to 15006 except the proxy\'s own and annotated ports, and re-runs to the same rules', () => {
    const rules = (v6 = false) => ns!.iptables(['-t', 'nat', '-S'], v6).split('\n').filter((l) => l.includes('WEFT')).sort();
    const first = rules();
    expect(first).to.include('-A PREROUTING -p tcp -j WEFT_INBOUND');
    expect(first).to.include('-A WEFT_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006');
    for (const p of [...PROXY_PORTS, 8443]) expect(first).to.include(`-A WEFT_INBOUND -p tcp -m tcp --dport ${p} -j RETURN`);
    const first6 = rules(true);
    expect(first6).to.include('-A WEFT_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006');
    expect(first6).to.include('-A WEFT_OUTPUT -d ::1/128 -j RETURN');
    runScript();
    expect(rules()).to.deep.equal(first);
    expect(rules(true)).to.deep.equal(first6);
  });
});
