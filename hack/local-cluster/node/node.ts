// The local node: a kubelet-like agent (and kube-proxy, service-proxy.ts) for the local control plane, which has
// no container runtime and no scheduler. It registers a Node, binds unscheduled pods to itself, runs them
// (pods.ts), keeps each pod's /etc/hosts listing the Services (there is no cluster DNS: names resolve from the hosts
// file), and refreshes a pod's ConfigMap and Secret volumes the way the kubelet does: when the pod object changes,
// and otherwise every 60–90 s. Deleted pods are stopped within their grace period and then removed from the API.
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, makeInformer, PatchStrategy, setHeaderOptions, type Informer, type KubeConfig, type KubernetesObject, type ObjectCache, type V1Pod, type V1Service } from '@kubernetes/client-node';
import { buildSidecar, IMAGE_ROOT } from '../../build-image.ts';
import { NodeAgent } from './agent-client.ts';
import { hostToolsBin } from './host-tools.ts';
import { LoadBalancers } from './load-balancer.ts';
import { ServiceProxy } from './service-proxy.ts';
import { startProcess } from '../processes.ts';
import { NodeNetwork } from './network.ts';
import { PodRuntime } from './pods.ts';

export interface LocalNodeOptions {
  kc: KubeConfig;
  /** Working directory: pod volumes and container logs. */
  dir: string;
  name?: string;
  log?: (line: string) => void;
  /** Periodic volume resync bounds (the kubelet's sync period is 1 min plus jitter). */
  resyncMs?: [number, number];
}

const CLUSTER_DOMAIN = 'cluster.local';
const POD_CIDR = '10.244.0.0/24';
type Watched<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export class LocalNode {
  readonly name: string;
  readonly network: NodeNetwork;
  readonly agent: NodeAgent;
  /** Services of type LoadBalancer, served on 127.0.1.x of this machine. */
  readonly loadBalancers: LoadBalancers;
  private readonly kc: KubeConfig;
  private readonly core: CoreV1Api;
  private readonly dir: string;
  private readonly log: (l: string) => void;
  private readonly resyncMs: [number, number];
  private readonly pods = new Map<string, { rt: PodRuntime; seen: string; timer?: NodeJS.Timeout; stopping?: Promise<void> }>();
  private podInformer?: Watched<V1Pod>;
  private svcInformer?: Watched<V1Service>;
  private hostsTimer?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private stopped = false;
  private readonly externalHosts: Array<{ ip: string; names: string[] }> = [];

  private constructor(o: LocalNodeOptions, network: NodeNetwork, agent: NodeAgent, loadBalancers: LoadBalancers) {
    this.kc = o.kc;
    this.core = o.kc.makeApiClient(CoreV1Api);
    this.dir = o.dir;
    this.name = o.name ?? 'weft-local-node';
    this.log = o.log ?? (() => {});
    this.resyncMs = o.resyncMs ?? [60_000, 90_000];
    this.network = network;
    this.agent = agent;
    this.loadBalancers = loadBalancers;
  }

  static async start(o: LocalNodeOptions): Promise<LocalNode> {
    const log = o.log ?? (() => {});
    log('local node: building the weft image tree (dist/) and finding iptables');
    buildSidecar();
    hostToolsBin();
    NodeNetwork.cleanupStale();
    // One line per pod is already logged here; the network's own per-pod lines would repeat it.
    const network = NodeNetwork.create({ id: randomBytes(3).toString('hex'), podCidr: POD_CIDR, log: (l) => !l.startsWith('pod network') && log(l) });
    let agent: NodeAgent;
    try {
      agent = await NodeAgent.start(network.nodeNs, log);
    } catch (e) {
      network.destroy();
      throw e;
    }
    mkdirSync(o.dir, { recursive: true });
    const tunnel = join(o.dir, 'agent.sock');
    await agent.tunnel(tunnel);
    const serviceProxy = new ServiceProxy({ nodeNs: network.nodeNs, toolsBin: hostToolsBin(), log });
    const lbs = new LoadBalancers({ kc: o.kc, tunnelPath: tunnel, serviceProxy, log });
    const node = new LocalNode(o, network, agent, lbs);
    await lbs.start();
    await node.register();
    node.watch();
    return node;
  }

  private get hostIp(): string {
    return this.network.gateway;
  }

  private async register(): Promise<void> {
    const labels = { 'kubernetes.io/hostname': this.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'topology.kubernetes.io/zone': 'local' };
    try {
      await this.core.createNode({ body: { metadata: { name: this.name, labels }, spec: { podCIDR: POD_CIDR, podCIDRs: [POD_CIDR] } } });
    } catch (e) {
      if ((e as { code?: number }).code !== 409) throw e;
    }
    await this.writeNodeStatus();
    this.heartbeat = setInterval(() => void this.writeNodeStatus().catch(() => {}), 30_000);
  }

  private async writeNodeStatus(): Promise<void> {
    const now = new Date();
    const capacity = { cpu: '2', memory: '24Gi', pods: '110', 'ephemeral-storage': '100Gi' };
    await this.core.patchNodeStatus(
      {
        name: this.name,
        body: {
          status: {
            capacity,
            allocatable: capacity,
            addresses: [{ type: 'InternalIP', address: this.hostIp }, { type: 'Hostname', address: this.name }],
            conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'weft local node is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }],
            nodeInfo: {
              architecture: 'amd64', operatingSystem: 'linux', osImage: 'weft local node', kernelVersion: '', kubeletVersion: 'v1.36.3',
              kubeProxyVersion: '', containerRuntimeVersion: 'weft-local://1', machineID: '', systemUUID: '', bootID: '',
            },
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  private watch(): void {
    const pods = makeInformer(this.kc, '/api/v1/pods', () => this.core.listPodForAllNamespaces());
    const guard = (what: string, f: Promise<void>) => f.catch((e: Error) => this.log(`local node: ${what}: ${e.stack ?? e.message}`));
    pods.on('add', (p) => void guard('pod added', this.onPod(p)));
    pods.on('update', (p) => void guard('pod updated', this.onPod(p)));
    pods.on('delete', (p) => void guard('pod deleted', this.onPodGone(p)));
    const services = makeInformer(this.kc, '/api/v1/services', () => this.core.listServiceForAllNamespaces());
    for (const ev of ['add', 'update', 'delete'] as const) services.on(ev, () => this.scheduleHosts());
    for (const inf of [pods, services] as Array<Informer<KubernetesObject>>) {
      inf.on('error', () => setTimeout(() => !this.stopped && void inf.start(), 1000));
      void inf.start();
    }
    this.podInformer = pods;
    this.svcInformer = services;
  }

  private async onPod(pod: V1Pod): Promise<void> {
    if (this.stopped) return;
    const md = pod.metadata!;
    const spec = pod.spec!;
    if (!spec.nodeName) {
      if (md.deletionTimestamp || (spec.schedulerName && spec.schedulerName !== 'default-scheduler')) return;
      await this.core
        .createNamespacedPodBinding({ name: md.name!, namespace: md.namespace!, body: { metadata: { name: md.name! }, target: { apiVersion: 'v1', kind: 'Node', name: this.name } } })
        .catch((e: Error) => this.log(`binding ${md.namespace}/${md.name} failed: ${e.message}`));
      return;
    }
    if (spec.nodeName !== this.name) return;
    const entry = this.pods.get(md.uid!);
    if (md.deletionTimestamp) return this.terminate(pod, md.deletionGracePeriodSeconds ?? 30);
    if (!entry) {
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
      const rt = new PodRuntime(pod, {
        kc: this.kc, nodeName: this.name, hostIp: this.hostIp, network: this.network, agent: this.agent,
        toolsBin: hostToolsBin(), dir: this.dir, weftImageRoot: () => IMAGE_ROOT, log: this.log,
      });
      const e = { rt, seen: this.signature(pod) };
      this.pods.set(md.uid!, e);
      this.log(`local node: starting pod ${rt.key}`);
      this.schedulePeriodicResync(md.uid!);
      const run = rt.run();
      this.scheduleHosts();
      await run.catch((err: Error) => this.log(`pod ${rt.key} failed to start: ${err.stack ?? err.message}`));
      return;
    }
    const sig = this.signature(pod);
    if (sig !== entry.seen) {
      entry.seen = sig;
      await entry.rt.resync(pod);
    }
  }

  /** What the kubelet reacts to: the pod's own metadata and spec, not the status it writes itself. */
  private signature(pod: V1Pod): string {
    return JSON.stringify([pod.metadata?.labels, pod.metadata?.annotations, pod.metadata?.generation]);
  }

  private schedulePeriodicResync(uid: string): void {
    const e = this.pods.get(uid);
    if (!e || this.stopped) return;
    const [lo, hi] = this.resyncMs;
    e.timer = setTimeout(() => {
      const latest = this.podInformer?.list().find((p) => p.metadata?.uid === uid);
      if (latest) void e.rt.resync(latest);
      this.schedulePeriodicResync(uid);
    }, lo + Math.random() * (hi - lo));
  }

  private async terminate(pod: V1Pod, graceSeconds: number): Promise<void> {
    const uid = pod.metadata!.uid!;
    const e = this.pods.get(uid);
    if (e) {
      e.stopping ??= (async () => {
        clearTimeout(e.timer);
        this.log(`local node: stopping pod ${e.rt.key} (grace ${graceSeconds}s)`);
        await e.rt.stop(graceSeconds);
        this.pods.delete(uid);
      })();
      await e.stopping;
    }
    // The kubelet's last word: the pod object goes once its containers are gone.
    await this.core
      // With a body, the API server reads the options from it alone: the grace period must be there too.
      .deleteNamespacedPod({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body: { gracePeriodSeconds: 0, preconditions: { uid } } })
      .catch((err: { code?: number; message?: string }) => {
        if (err.code !== 404) this.log(`local node: deleting ${e?.rt.key ?? uid}: ${err.message}`);
      });
  }

  private async onPodGone(pod: V1Pod): Promise<void> {
    const e = this.pods.get(pod.metadata?.uid ?? '');
    if (!e) return;
    e.stopping ??= (async () => {
      clearTimeout(e.timer);
      await e.rt.stop(0);
      this.pods.delete(pod.metadata!.uid!);
    })();
    await e.stopping;
  }

  private scheduleHosts(): void {
    clearTimeout(this.hostsTimer);
    this.hostsTimer = setTimeout(() => this.writeHosts(), 50);
  }

  /** Every pod's /etc/hosts: the Services by their cluster names (short names within the pod's namespace). */
  private writeHosts(): void {
    const services = (this.svcInformer?.list() ?? []).filter((s) => s.spec?.clusterIP && s.spec.clusterIP !== 'None');
    for (const { rt } of this.pods.values()) {
      if (!rt.net) continue;
      const ns = rt.pod.metadata!.namespace!;
      const entries = services.map((s) => {
        const [name, sns] = [s.metadata!.name!, s.metadata!.namespace!];
        const names = [`${name}.${sns}.svc.${CLUSTER_DOMAIN}`, `${name}.${sns}.svc`, `${name}.${sns}`];
        if (sns === ns) names.push(name);
        return { ip: s.spec!.clusterIP!, names };
      }).concat(this.externalHosts);
      try {
        this.network.writeHosts(rt.net, rt.pod.metadata!.name!, entries);
      } catch (e) {
        this.log(`hosts for ${rt.key}: ${(e as Error).message}`);
      }
    }
  }

  /**
   * A host outside the cluster: `ip` is added to the node's namespace (reachable from every pod) and `names` resolve
   * to it in every pod's hosts file, as public DNS would resolve them.
   */
  addExternalHost(ip: string, names: string[]): void {
    this.network.addExternalAddress(ip);
    this.externalHosts.push({ ip, names });
    this.writeHosts();
  }

  /** Starts a process in the node's namespace (an outside server on an external address), with its output in a file. */
  spawnOutside(argv: string[], logFile: string, env: Record<string, string> = {}): ChildProcess {
    return startProcess('outside', 'ip', ['netns', 'exec', this.network.nodeNs, ...argv], logFile, { ...process.env, ...env }).child;
  }

  /** The running pod `namespace/name`, for tests and the demo. */
  pod(namespace: string, name: string): PodRuntime | undefined {
    for (const { rt } of this.pods.values()) if (rt.key === `${namespace}/${name}`) return rt;
    return undefined;
  }

  podsOf(namespace: string, labels: Record<string, string>): PodRuntime[] {
    return [...this.pods.values()]
      .map((e) => e.rt)
      .filter((rt) => rt.pod.metadata!.namespace === namespace && Object.entries(labels).every(([k, v]) => rt.pod.metadata!.labels?.[k] === v));
  }

  async exec(namespace: string, pod: string, container: string, argv: string[], timeoutMs?: number) {
    const rt = this.pod(namespace, pod);
    if (!rt) throw new Error(`no pod ${namespace}/${pod} runs on ${this.name}`);
    return rt.exec(container, argv, timeoutMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.hostsTimer);
    await Promise.all([this.podInformer?.stop(), this.svcInformer?.stop(), this.loadBalancers.stop()]);
    await Promise.all([...this.pods.values()].map(async (e) => {
      clearTimeout(e.timer);
      await (e.stopping ?? e.rt.stop(2));
    }));
    this.pods.clear();
    await this.agent.stop();
    this.network.destroy();
  }
}

