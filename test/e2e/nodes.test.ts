// What only real nodes (a kubelet with a container runtime) can show: kubectl exec and logs through the API server
// on injected pods, cluster DNS in pods, traffic between pods on different nodes, and a sidecar over its memory
// limit OOM-killed and restarted by the kubelet while the app's traffic recovers.
import { expect } from 'chai';
import { waitFor } from '../../hack/local-cluster/processes.ts';
import { apply, fetchFrom, getJson, readyPods } from '../support/e2e-mesh.ts';
import type { MeshTarget } from '../support/e2e-target.ts';
import { e2eTiers, TIER_START_MS } from '../support/e2e-tiers.ts';

const NS = 'e2e-nodes';

interface NodeList { items: Array<{ metadata: { name: string } }> }
interface PodStatus {
  spec: { nodeName: string };
  status: { initContainerStatuses?: Array<{ name: string; restartCount: number; ready: boolean; lastState?: { terminated?: { reason?: string } } }> };
}

/** A client and an httpbin server, each pinned to a node (the two-node case) or left to the scheduler. */
function workloads(nodes: [string, string]): string {
  const deploy = (name: string, image: string, container: string, node: string, annotations: Record<string, string> = {}) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${NS}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}, annotations: ${JSON.stringify(annotations)}}
    spec:
      serviceAccountName: ${name}
      nodeName: ${node}
      terminationGracePeriodSeconds: 2
      containers:
      - {name: ${container}, image: ${image}, ports: [{containerPort: 9080}]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ${name}, namespace: ${NS}}
---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${NS}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 8000, targetPort: 9080}]
`;
  return [
    `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}, labels: {weft-injection: enabled}}\n`,
    deploy('client', 'weft-examples/client:v1', 'client', nodes[0]),
    // Room for the proxy's normal use, not for the allocation the OOM test adds.
    deploy('server', 'weft-examples/httpbin:v1', 'app', nodes[1], { 'sidecar.istio.io/proxyMemoryLimit': '256Mi' }),
  ].join('---\n');
}

for (const tier of e2eTiers()) describe(`e2e [${tier.name}]: pods on real nodes`, function () {
  this.timeout(240_000);
  let t: MeshTarget;
  let client: string;
  let server: string;
  let nodes: [string, string];

  before(async function () {
    this.timeout(TIER_START_MS);
    if (tier.name === 'local') {
      console.log('      skipped: the local node runs pods as host processes (no kubelet, runtime or cluster DNS)');
      return this.skip();
    }
    const target = tier.target();
    if ('skip' in target) {
      console.log(`      skipped: ${target.skip}`);
      return this.skip();
    }
    t = await target;
    const names = (await getJson<NodeList>(t, ['nodes'])).items.map((n) => n.metadata.name).sort();
    if (names.length < 2) throw new Error(`this tier needs two nodes, it has ${names.join(', ')}`);
    nodes = [names[0]!, names[1]!];
    await apply(t, workloads(nodes));
    client = (await readyPods(t, NS, 'app=client', 1, 180_000))[0]!.name;
    server = (await readyPods(t, NS, 'app=server', 1, 180_000))[0]!.name;
  });

  it('runs kubectl exec and kubectl logs through the API server on an injected pod', async () => {
    const inApp = await t.exec(NS, client, 'client', ['node', '-e', 'console.log(process.version, process.getuid())']);
    expect(inApp.code, inApp.stderr).to.equal(0);
    expect(inApp.stdout).to.match(/^v24\.\d+\.\d+ \d+\n$/);
    const inProxy = await t.exec(NS, client, 'weft-proxy', ['node', '-e', 'console.log(process.getuid())']);
    expect(inProxy.stdout.trim(), inProxy.stderr).to.equal('1337');
    const logs = await t.kubectl(['logs', '-n', NS, client, '-c', 'weft-proxy', '--tail=200']);
    expect(logs.status, logs.stderr).to.equal(0);
    expect(logs.stdout).to.match(/config|listen|ready/i);
  });

  it('resolves Service names through the cluster DNS (no hosts-file entries)', async () => {
    const lookup = "require('node:dns').promises.lookup(process.argv[1]).then((a) => console.log(a.address))";
    const r = await t.exec(NS, client, 'client', ['node', '-e', lookup, `server.${NS}.svc.cluster.local`]);
    expect(r.code, r.stderr).to.equal(0);
    const svc = await getJson<{ spec: { clusterIP: string } }>(t, ['service', '-n', NS, 'server']);
    expect(r.stdout.trim()).to.equal(svc.spec.clusterIP);
    const short = await t.exec(NS, client, 'client', ['node', '-e', lookup, 'kubernetes.default']);
    expect(short.code, short.stderr).to.equal(0);
    const hosts = await t.exec(NS, client, 'client', ['cat', '/etc/hosts']);
    expect(hosts.stdout).not.to.include('server');
  });

  it('carries mTLS traffic between pods on different nodes', async () => {
    const placed = await Promise.all([client, server].map((p) => getJson<PodStatus>(t, ['pod', '-n', NS, p])));
    expect(placed.map((p) => p.spec.nodeName)).to.deep.equal(nodes);
    const r = await fetchFrom(t, NS, client, 'http://server:8000/', { n: 20, concurrency: 4 });
    expect(r.results.map((x) => x.status)).to.deep.equal(Array(20).fill(200));
    expect((r.results[0]!.body as { peer: string }).peer).to.equal(`spiffe://cluster.local/ns/${NS}/sa/client`);
  });

  it('gets new workloads applied one after another their config without the kubelet\'s periodic resync', async () => {
    // Each pod starts before its ConfigMap exists; its sidecar waits for config. Without a prompt nudge the kubelet
    // remounts only on its 60–90 s resync, so the deadline (well under it, generous for a busy machine) tells.
    const ns = 'e2e-nodes-new';
    await apply(t, `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}, labels: {weft-injection: enabled}}\n`);
    const took: string[] = [];
    for (const name of ['one', 'two', 'three']) {
      const t0 = Date.now();
      await apply(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers: [{name: app, image: weft-examples/httpbin:v1, ports: [{containerPort: 9080}]}]
`);
      await readyPods(t, ns, `app=${name}`, 1, 45_000);
      took.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    console.log(`      ready after apply: ${took.join(', ')}`);
  });

  it('has the kubelet OOM-kill a sidecar over its memory limit and restart it, and traffic recovers', async () => {
    const before = (await getJson<PodStatus>(t, ['pod', '-n', NS, server])).status.initContainerStatuses!.find((c) => c.name === 'weft-proxy')!;
    // Processes in the proxy's container (same user: they may raise the proxy's OOM score, never lower it) grow the
    // container's memory past its limit, each smaller than the proxy, so the kernel's OOM killer picks the proxy as
    // it would pick a leaking one. They go with the container.
    const grow = 'echo 1000 > /proc/1/oom_score_adj; for i in 1 2 3 4 5 6 7 8 9 10; do dd if=/dev/zero of=/dev/null bs=30M & done; wait';
    await t.exec(NS, server, 'weft-proxy', ['sh', '-c', grow], 60_000).catch(() => undefined);
    let last = '';
    await waitFor('the proxy OOM-killed and restarted', async () => {
      const s = (await getJson<PodStatus>(t, ['pod', '-n', NS, server])).status.initContainerStatuses!.find((c) => c.name === 'weft-proxy')!;
      last = JSON.stringify(s);
      return s.restartCount > before.restartCount && s.lastState?.terminated?.reason === 'OOMKilled' && s.ready;
    }, 120_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${last}`, { cause: e });
    });
    await waitFor('traffic through the restarted proxy', async () => {
      const r = await fetchFrom(t, NS, client, 'http://server:8000/', { n: 5 });
      return r.results.every((x) => x.status === 200);
    }, 60_000);
  });
});
