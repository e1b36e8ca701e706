// The local node's network for real: a node namespace with a bridge and two pod namespaces. The node agent (inside
// the node namespace) reaches a server in pod A by its address; pod B reaches it by a name from its hosts file,
// and a process already running in pod B sees a hosts entry written after it started; a closed port is refused;
// removing pods and destroying the network leaves no namespace behind, and cleanupStale() removes what a killed
// owner left. A pod's own shell script finds working iptables commands on PATH through hostToolsBin().
import { expect } from 'chai';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { NodeNetwork, type PodNet } from '../../hack/local-cluster/node/network.ts';
import { NodeAgent } from '../../hack/local-cluster/node/agent-client.ts';
import { hostToolsBin } from '../../hack/local-cluster/node/host-tools.ts';
import { skipOrRequireNetns } from '../support/proxy-netns.ts';

const node = process.execPath;
const netnsList = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

/** A process in `ns` whose first stdout line is awaited (bounded), then further lines on demand. */
async function startIn(ns: string, script: string): Promise<{ child: ChildProcessWithoutNullStreams; line: () => Promise<string> }> {
  const child = spawn('ip', ['netns', 'exec', ns, node, '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  const queue: string[] = [];
  const waiting: Array<(l: string) => void> = [];
  createInterface({ input: child.stdout }).on('line', (l) => (waiting.shift() ?? ((x: string) => queue.push(x)))(l));
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const line = () => new Promise<string>((resolve, reject) => {
    const q = queue.shift();
    if (q !== undefined) return resolve(q);
    const timer = setTimeout(() => reject(new Error(`no output from ${ns} within 5 s: ${err}`)), 5000);
    waiting.push((l) => {
      clearTimeout(timer);
      resolve(l);
    });
  });
  await line();
  return { child, line };
}

describe('local node network: bridge, pod namespaces, hosts files and the node agent', function () {
  this.timeout(30_000);
  const id = randomBytes(3).toString('hex');
  let net: NodeNetwork | undefined;
  let agent: NodeAgent | undefined;
  const children: ChildProcessWithoutNullStreams[] = [];

  before(function () {
    // Says why, and with WEFT_REQUIRE_NETNS=1 fails instead of skipping.
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      skipOrRequireNetns('network namespaces need Linux and root');
      this.skip();
    }
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await agent?.stop();
    net?.destroy();
  });

  it('connects pods through the bridge, resolves names from hosts files and removes everything', async function () {
    net = NodeNetwork.create({ id });
    const a = net.addPod('default/a');
    const b: PodNet = net.addPod('default/b');
    expect([a.ip, b.ip]).to.deep.equal(['10.244.0.2', '10.244.0.3']);

    const server = await startIn(a.ns, `require('http').createServer((q, s) => s.end('hello ' + q.url))
      .listen(8080, '0.0.0.0', () => console.log('listening'))`);
    children.push(server.child);
    agent = await NodeAgent.start(net.nodeNs);
    const res = await agent.http({ url: `http://${a.ip}:8080/x`, timeoutMs: 3000 });
    expect(res).to.deep.include({ status: 200, body: 'hello /x' });
    expect(await agent.tcp({ host: a.ip, port: 8080, timeoutMs: 2000 })).to.deep.equal({ connected: true });
    expect(await agent.tcp({ host: a.ip, port: 9, timeoutMs: 2000 })).to.include({ connected: false });
    const { results } = await agent.load({ url: `http://${a.ip}:8080/l`, n: 20, concurrency: 5, timeoutMs: 3000 });
    expect(results.map((r) => r.status)).to.deep.equal(new Array(20).fill(200));
    const before = Date.now();
    const { matchedAt } = await agent.until({ url: `http://${a.ip}:8080/u`, match: '^hello /u$', timeoutMs: 3000 });
    expect(matchedAt).to.be.within(before, Date.now());
    await agent.until({ url: `http://${a.ip}:8080/u`, match: 'never', timeoutMs: 100 }).then(
      () => expect.fail('until should time out'),
      (e: Error) => expect(e.message).to.match(/matched \/never\/ within 100 ms/),
    );

    // Pod B: a process started before the hosts entry exists resolves it once written (the file is updated in place).
    const resolver = await startIn(b.ns, `console.log('ready'); require('readline').createInterface({ input: process.stdin })
      .on('line', (n) => require('dns').lookup(n, { family: 4 }, (e, addr) => console.log(e ? e.code : addr)))`);
    children.push(resolver.child);
    resolver.child.stdin.write('app-a\n');
    expect(await resolver.line()).to.match(/^(ENOTFOUND|EAI_AGAIN)$/); // no DNS answers in a pod
    net.writeHosts(b, 'b', [{ ip: a.ip, names: ['app-a', 'app-a.default.svc.cluster.local'] }]);
    resolver.child.stdin.write('app-a.default.svc.cluster.local\n');
    expect(await resolver.line()).to.equal(a.ip);
    const fetched = execFileSync('ip', ['netns', 'exec', b.ns, node, '-e',
      `fetch('http://app-a:8080/from-b', { signal: AbortSignal.timeout(3000) }).then((r) => r.text()).then(console.log)`],
    { encoding: 'utf8', timeout: 10_000 });
    expect(fetched.trim()).to.equal('hello /from-b');

    for (const c of children.splice(0)) c.kill('SIGKILL');
    net.removePod(b);
    expect(netnsList()).not.to.include(b.ns);
    expect(net.addPod('default/c').ip).to.equal(b.ip); // the address was freed
    await agent.stop();
    net.destroy();
    expect(netnsList()).not.to.include(`weft-${id}-`);
  });

  it('cleanupStale removes the namespaces of a node network whose owner was killed', function () {
    const stale = randomBytes(3).toString('hex');
    // The owner is SIGKILLed right after creating a node and a pod, so its exit hook never runs.
    const code = `import { NodeNetwork } from ${JSON.stringify(new URL('../../hack/local-cluster/node/network.ts', import.meta.url).href)};
      const n = NodeNetwork.create({ id: '${stale}' }); n.addPod('x'); process.kill(process.pid, 'SIGKILL');`;
    expect(() => execFileSync(node, ['--input-type=module', '-e', code], { stdio: 'pipe', timeout: 10_000 })).to.throw();
    expect(netnsList()).to.include(`weft-${stale}-node`);
    NodeNetwork.cleanupStale(stale);
    expect(netnsList()).not.to.include(`weft-${stale}-`);
  });

  it('hostToolsBin gives a pod script working iptables commands on PATH', function () {
    let bin: string;
    try {
      bin = hostToolsBin();
    } catch (e) {
      skipOrRequireNetns((e as Error).message);
      return this.skip();
    }
    const tools = NodeNetwork.create({ id: randomBytes(3).toString('hex') });
    try {
      const pod = tools.addPod('default/t');
      const script = 'iptables -t nat -A OUTPUT -p tcp -d 10.96.0.0/16 -j REDIRECT --to-ports 15001 && iptables-save -t nat | iptables-restore '
        + '&& ip6tables -t nat -N WEFT_TEST && ip6tables-save -t nat | ip6tables-restore && iptables-save -t nat && ip6tables-save -t nat';
      const out = execFileSync('ip', ['netns', 'exec', pod.ns, 'sh', '-c', script],
        { encoding: 'utf8', timeout: 10_000, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
      expect(out).to.include('-A OUTPUT -d 10.96.0.0/16 -p tcp -j REDIRECT --to-ports 15001').and.include(':WEFT_TEST');
    } finally {
      tools.destroy();
    }
  });
});
