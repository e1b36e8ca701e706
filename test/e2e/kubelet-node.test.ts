// The local cluster's real nodes (kubelet + containerd + kube-proxy in network namespaces): nodes Ready, pods
// running on each node, cluster DNS, pod-to-pod traffic across nodes, kubectl logs and exec through the API
// server, a LoadBalancer Service reachable from the host, and stop() leaving nothing behind.
import { execFileSync } from 'node:child_process';
import { get } from 'node:http';
import { expect } from 'chai';
import { runningCluster, startCluster, type LocalCluster } from '../../hack/local-cluster/kubelet/cluster.ts';
import { PREFIX, listNetns } from '../../hack/local-cluster/kubelet/host-network.ts';
import { waitFor } from '../../hack/local-cluster/processes.ts';
import { skipOrRequireNetns } from '../support/proxy-netns.ts';

const NS = 'e2e-kubelet';

/** Why this host cannot run real nodes, or undefined when it can. */
function unsupported(): string | undefined {
  if (process.platform !== 'linux') return 'real nodes need Linux network namespaces and cgroups';
  if (process.getuid?.() !== 0) return 'real nodes (network namespaces, containerd) need root';
  const probe = `${PREFIX}-probe${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
  } catch (e) {
    return `ip netns add failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
  }
  return undefined;
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

describe('e2e [nodes]: real kubelet nodes of the local cluster', function () {
  this.timeout(180_000);
  let cluster: LocalCluster | undefined;
  /** Whether this suite started the cluster (another suite of the same run may have one running already). */
  let owned = false;
  const kubectl = (args: string[], input?: string) => cluster!.cp.kubectlAsync(args, input);
  const must = async (args: string[], input?: string) => {
    const r = await kubectl(args, input);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const podIp = async (name: string) => (await must(['get', 'pod', '-n', NS, name, '-o', 'jsonpath={.status.podIP}'])).trim();

  /** A busybox web server pinned to a node, answering its own name; it logs a line first. */
  const server = (name: string, node: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${NS}, labels: {app: web}}
spec:
  nodeSelector: {kubernetes.io/hostname: ${node}}
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: ${cluster!.images.busybox}
    imagePullPolicy: Never
    command: [sh, -c, 'mkdir -p /www && echo ${name} > /www/index.html && echo "serving ${name}" && exec httpd -f -p 8080 -h /www']
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
`;

  before(async function () {
    this.timeout(1_800_000); // a cold first run builds the node binaries
    const why = unsupported();
    if (why) {
      skipOrRequireNetns(why);
      return this.skip();
    }
    cluster = runningCluster();
    if (!cluster) {
      const t0 = Date.now();
      cluster = await startCluster({ nodes: 2, log: (l) => console.log(`      ${l}`) });
      owned = true;
      console.log(`      cluster with 2 nodes started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    await must(['apply', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`);
    await waitFor('the default ServiceAccount', async () => (await kubectl(['get', 'serviceaccount', 'default', '-n', NS])).status === 0, 60_000);
    const [n1, n2] = cluster.nodes;
    await must(['apply', '-f', '-'], server('web-1', n1!.name) + server('web-2', n2!.name) + `
apiVersion: v1
kind: Pod
metadata: {name: pause-2, namespace: ${NS}}
spec:
  nodeSelector: {kubernetes.io/hostname: ${n2!.name}}
  containers: [{name: pause, image: ${cluster.images.pause}, imagePullPolicy: Never}]
`);
  });

  after(async () => {
    if (owned) await cluster?.stop();
    else if (cluster) await kubectl(['delete', 'namespace', NS, '--wait=false']);
  });

  it('registers every node and reports it Ready', async () => {
    const nodes = JSON.parse(await must(['get', 'nodes', '-o', 'json'])) as {
      items: Array<{ metadata: { name: string }; status: { conditions: Array<{ type: string; status: string }>; addresses: Array<{ type: string; address: string }> } }>;
    };
    expect(nodes.items.map((n) => n.metadata.name).sort()).to.deep.equal(cluster!.nodes.map((n) => n.name).sort());
    for (const n of nodes.items) {
      expect(n.status.conditions.find((c) => c.type === 'Ready')?.status, n.metadata.name).to.equal('True');
      const ip = cluster!.nodes.find((x) => x.name === n.metadata.name)!.ip;
      expect(n.status.addresses).to.deep.include({ type: 'InternalIP', address: ip });
    }
  });

  it('runs pods on each node, from the pause and the busybox image', async () => {
    await must(['wait', '-n', NS, '--for=condition=Ready', 'pod/web-1', 'pod/web-2', 'pod/pause-2', '--timeout=120s']);
    const pods = JSON.parse(await must(['get', 'pods', '-n', NS, '-o', 'json'])) as { items: Array<{ metadata: { name: string }; spec: { nodeName: string }; status: { phase: string; podIP: string } }> };
    const byName = new Map(pods.items.map((p) => [p.metadata.name, p]));
    expect(byName.get('web-1')!.spec.nodeName).to.equal(cluster!.nodes[0]!.name);
    expect(byName.get('web-2')!.spec.nodeName).to.equal(cluster!.nodes[1]!.name);
    for (const p of pods.items) expect(p.status.phase, p.metadata.name).to.equal('Running');
    expect(byName.get('web-1')!.status.podIP).to.match(/^10\.244\.1\./);
    expect(byName.get('web-2')!.status.podIP).to.match(/^10\.244\.2\./);
  });

  it('serves kubectl logs and kubectl exec through the API server', async () => {
    expect(await must(['logs', '-n', NS, 'web-2'])).to.contain('serving web-2');
    expect((await must(['exec', '-n', NS, 'web-1', '--', 'cat', '/www/index.html'])).trim()).to.equal('web-1');
  });

  it('resolves kubernetes.default.svc.cluster.local with CoreDNS from inside a pod', async () => {
    let out = '';
    await waitFor('the cluster DNS answer', async () => {
      const r = await kubectl(['exec', '-n', NS, 'web-2', '--', 'nslookup', 'kubernetes.default.svc.cluster.local']);
      out = r.stdout;
      return r.status === 0 && out.includes('10.96.0.1');
    }, 60_000).catch((e: Error) => { throw new Error(`${e.message}; last answer: ${out}`); });
    expect(out).to.match(/Address:?\s+10\.96\.0\.1\b/);
  });

  // busybox-static 1.35's `wget -T` crashes: `timeout` bounds the requests instead.
  it('carries traffic from a pod on node 1 to a pod on node 2, and to the API server through its Service', async () => {
    const ip2 = await podIp('web-2');
    expect((await must(['exec', '-n', NS, 'web-1', '--', 'timeout', '10', 'wget', '-q', '-O', '-', `http://${ip2}:8080/`])).trim()).to.equal('web-2');
    // The kubernetes Service's ClusterIP (kube-proxy) leads to the API server on the host bridge. busybox has no
    // TLS: plain HTTP to the TLS port draws the API server's own "400 Bad Request", which proves the path.
    const r = await kubectl(['exec', '-n', NS, 'web-1', '--', 'timeout', '10', 'wget', '-q', '-O', '-', 'http://10.96.0.1:443/']);
    expect(r.stdout + r.stderr).to.contain('400');
  });

  it('routes the host to pods on every node (the API server calls webhooks that way)', async () => {
    for (const name of ['web-1', 'web-2']) expect((await httpGet(`http://${await podIp(name)}:8080/`)).trim()).to.equal(name);
  });

  it('gives a LoadBalancer Service an address that answers from the host', async () => {
    await must(['apply', '-f', '-'], `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${NS}}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`);
    let ip = '';
    await waitFor('the LoadBalancer ingress address', async () => {
      ip = (await must(['get', 'service', '-n', NS, 'web', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).trim();
      return ip !== '';
    }, 60_000);
    expect(ip).to.match(/^10\.200\.1\.\d+$/);
    const seen = new Set<string>();
    await waitFor('answers from both pods through the LoadBalancer address', async () => {
      seen.add((await httpGet(`http://${ip}/`)).trim());
      return seen.has('web-1') && seen.has('web-2');
    }, 60_000);
    expect([...seen].sort()).to.deep.equal(['web-1', 'web-2']);
  });

  it('stop() removes the nodes, their namespaces and the host bridge', async function () {
    if (!owned) {
      console.log('      skipped: another suite of this run owns the cluster and stops it');
      return this.skip();
    }
    await cluster!.stop();
    owned = false;
    cluster = undefined;
    expect(listNetns().filter((n) => n.startsWith(PREFIX) || n.startsWith('cni-'))).to.deep.equal([]);
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).to.not.contain(`${PREFIX}`);
  });
});
