// The local node itself, on the real control plane: it must behave like a kubelet where weft depends on it —
// volume refresh on pod change (not before the periodic resync), probes feeding EndpointSlices, restarts, cleanup.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'chai';
import type { LocalMesh } from '../../hack/local-cluster/mesh.ts';
import { waitFor } from '../../hack/local-cluster/processes.ts';
import { apply, readyPods, sharedMesh } from '../support/e2e-mesh.ts';
import { localTarget, type MeshTarget } from '../support/e2e-target.ts';

const NS = 'e2e-node';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const pod = (name: string, spec: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${NS}, labels: {app: ${name}}}
spec:
  terminationGracePeriodSeconds: 2
${spec}`;

describe('e2e [local]: the local node', function () {
  this.timeout(120_000);
  let mesh: LocalMesh;
  let t: MeshTarget;

  const cat = async (name: string, path: string) => (await mesh.node.exec(NS, name, 'app', ['cat', path])).stdout;
  const status = async (name: string) =>
    JSON.parse(await mesh.cp.kubectl(['get', 'pod', '-n', NS, name, '-o', 'json'])) as {
      status: { containerStatuses?: Array<{ restartCount: number; ready: boolean; containerID?: string; state: { waiting?: { reason: string; message?: string } } }> };
    };

  before(async function () {
    const m = sharedMesh();
    if ('skip' in m) return this.skip();
    mesh = await m;
    t = localTarget(mesh);
    await apply(t, `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n`);
    // Pods are admitted once kube-controller-manager has made the namespace's default ServiceAccount.
    await waitFor('the default ServiceAccount', async () => (await mesh.cp.kubectlAsync(['get', 'serviceaccount', 'default', '-n', NS])).status === 0, 30_000);
  });

  it('refreshes a ConfigMap volume when the pod object changes, and not before the periodic resync', async () => {
    await apply(t, `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: ${NS}}\ndata: {v: one}\n---\n` + pod('reader', `
  containers:
  - {name: app, image: 'weft-examples/client:v1', volumeMounts: [{name: cfg, mountPath: /etc/weft-e2e-cfg}]}
  volumes:
  - {name: cfg, configMap: {name: cfg}}`));
    await readyPods(t, NS, 'app=reader', 1);
    expect(await cat('reader', '/etc/weft-e2e-cfg/v')).to.equal('one');
    await apply(t, `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: ${NS}}\ndata: {v: two}\n`);
    await sleep(3000);
    expect(await cat('reader', '/etc/weft-e2e-cfg/v'), 'refreshed before the pod changed').to.equal('one');
    const t0 = Date.now();
    await mesh.cp.kubectlAsync(['annotate', 'pod', '-n', NS, 'reader', 'e2e/nudge=1']);
    await waitFor('the new value', async () => (await cat('reader', '/etc/weft-e2e-cfg/v')) === 'two', 5000);
    expect(Date.now() - t0).to.be.below(3000);
  });

  it('runs exec readiness probes and takes an unready pod out of its EndpointSlice', async () => {
    await apply(t, `apiVersion: v1\nkind: Service\nmetadata: {name: probed, namespace: ${NS}}\nspec: {selector: {app: probed}, ports: [{port: 80, targetPort: 9080}]}\n---\n` + pod('probed', `
  containers:
  - name: app
    image: 'weft-examples/httpbin:v1'
    readinessProbe: {exec: {command: [cat, /ready/ok]}, periodSeconds: 1, failureThreshold: 1}
    volumeMounts: [{name: ready, mountPath: /ready}]
  volumes:
  - {name: ready, emptyDir: {}}`));
    const endpoints = async () =>
      (JSON.parse(await mesh.cp.kubectl(['get', 'endpointslices', '-n', NS, '-l', 'kubernetes.io/service-name=probed', '-o', 'json'])) as {
        items: Array<{ endpoints?: Array<{ conditions: { ready: boolean } }> }>;
      }).items.flatMap((s) => s.endpoints ?? []);
    await waitFor('the pod running', async () => (await status('probed')).status.containerStatuses?.[0]?.containerID !== undefined, 30_000);
    await sleep(1500);
    expect((await status('probed')).status.containerStatuses![0]!.ready).to.equal(false);
    await mesh.node.exec(NS, 'probed', 'app', ['touch', '/ready/ok']);
    await waitFor('a ready endpoint', async () => (await endpoints()).some((e) => e.conditions.ready), 15_000);
    await mesh.node.exec(NS, 'probed', 'app', ['rm', '/ready/ok']);
    await waitFor('the endpoint unready', async () => (await endpoints()).every((e) => !e.conditions.ready), 15_000);
  });

  it('restarts a container that died and counts the restart', async () => {
    await apply(t, pod('crashy', `
  containers:
  - {name: app, image: 'weft-examples/httpbin:v1'}`));
    await readyPods(t, NS, 'app=crashy', 1);
    const pid = Number((await status('crashy')).status.containerStatuses![0]!.containerID!.replace('weft-local://', ''));
    process.kill(pid, 'SIGKILL');
    await waitFor('a restart', async () => {
      const s = (await status('crashy')).status.containerStatuses![0]!;
      return s.restartCount === 1 && s.ready;
    }, 30_000);
  });

  it('stops the processes and removes the network namespace of a deleted pod', async () => {
    const rt = mesh.node.pod(NS, 'crashy')!;
    const netns = rt.net!.ns;
    const pid = Number((await status('crashy')).status.containerStatuses![0]!.containerID!.replace('weft-local://', ''));
    const r = await mesh.cp.kubectlAsync(['delete', 'pod', '-n', NS, 'crashy', '--wait=true', '--timeout=30s']);
    expect(r.status, r.stderr).to.equal(0);
    expect(() => process.kill(pid, 0)).to.throw();
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.to.include(netns);
  });

  it('leaves a container of an image it cannot run waiting with ErrImagePull, naming the image', async () => {
    await apply(t, pod('elsewhere', `
  containers:
  - {name: app, image: 'nginx:1.27'}`));
    await waitFor('ErrImagePull', async () => (await status('elsewhere')).status.containerStatuses?.[0]?.state.waiting?.reason === 'ErrImagePull', 15_000);
    expect((await status('elsewhere')).status.containerStatuses![0]!.state.waiting!.message).to.include('nginx:1.27');
  });

  it('serves a LoadBalancer Service on a loopback address of this machine, to a pod binding port 80 as UID 1337', async () => {
    await apply(t, `apiVersion: v1\nkind: Service\nmetadata: {name: edge, namespace: ${NS}}\nspec: {type: LoadBalancer, selector: {app: edge}, ports: [{name: http, port: 8080, targetPort: 80}]}\n---\n` + pod('edge', `
  securityContext:
    runAsUser: 1337
    sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: '0'}]
  containers:
  - {name: app, image: 'weft-examples/httpbin:v1', env: [{name: PORT, value: '80'}], readinessProbe: {tcpSocket: {port: 80}, periodSeconds: 1}}`));
    await readyPods(t, NS, 'app=edge', 1);
    let ip = '';
    await waitFor('the load balancer address', async () => {
      ip = (await mesh.cp.kubectlAsync(['get', 'service', 'edge', '-n', NS, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).stdout;
      return ip.startsWith('127.0.1.');
    }, 15_000);
    let body = '';
    await waitFor('an answer through the load balancer', async () => {
      const r = await fetch(`http://${ip}:8080/hello`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
      body = (await r?.text()) ?? '';
      return r?.status === 200;
    }, 15_000);
    expect(JSON.parse(body)).to.include({ service: 'httpbin', path: '/hello' });
  });

  it('sends a client without a sidecar to a Service\'s ready endpoints through its ClusterIP', async () => {
    await apply(t, `apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: ${NS}}\nspec: {selector: {app: echo}, ports: [{name: http, port: 80, targetPort: 9080}]}\n---\n` + pod('echo', `
  containers:
  - {name: app, image: 'weft-examples/httpbin:echo'}`) + '\n---\n' + pod('asker', `
  containers:
  - {name: app, image: 'weft-examples/client:v1'}`));
    await readyPods(t, NS, 'app=echo', 1);
    await readyPods(t, NS, 'app=asker', 1);
    let body: unknown;
    await waitFor('an answer through the ClusterIP', async () => {
      const r = await mesh.node.exec(NS, 'asker', 'app', ['node', 'examples/apps/client.ts', 'fetch', `http://echo.${NS}/via-cluster-ip`]);
      body = (JSON.parse(r.stdout) as { results: Array<{ body?: unknown }> }).results[0]?.body;
      return typeof body === 'object';
    }, 20_000);
    expect(body).to.include({ service: 'httpbin', version: 'echo', path: '/via-cluster-ip' });
  });

  it('gives pods a host outside the cluster, by name, through the node', async () => {
    await apply(t, pod('wanderer', `
  containers:
  - {name: app, image: 'weft-examples/client:v1'}`));
    await readyPods(t, NS, 'app=wanderer', 1);
    mesh.node.addExternalHost('203.0.113.10', ['api.outside.test']);
    const server = mesh.node.spawnOutside([process.execPath, 'examples/apps/httpbin.ts'], join(mesh.dir, 'outside-httpbin.log'), { PORT: '18080', APP_VERSION: 'outside' });
    try {
      await waitFor('the outside server', async () => (await mesh.node.agent.tcp({ host: '203.0.113.10', port: 18080, timeoutMs: 500 })).connected, 15_000);
      const r = await mesh.node.exec(NS, 'wanderer', 'app', ['node', 'examples/apps/client.ts', 'fetch', 'http://api.outside.test:18080/x']);
      expect(JSON.parse(r.stdout).results[0].body).to.include({ service: 'httpbin', version: 'outside' });
    } finally {
      server.kill();
    }
  });
});
