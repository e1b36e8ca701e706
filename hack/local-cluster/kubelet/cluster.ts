// A local Kubernetes cluster with real nodes: the control plane (host bridge address), kube-scheduler, and per node
// a network namespace running containerd, the kubelet and kube-proxy; CoreDNS and a LoadBalancer controller on
// top. Root only. startCluster() first removes a crashed run's leftovers; stop() removes everything it made.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ControlPlane } from '../control-plane.ts';
import { hostToolsBin } from '../node/host-tools.ts';
import { freePort, startProcess, stopProcess, waitFor, type Proc } from '../processes.ts';
import { createNodeCgroups, removeNodes } from './cleanup.ts';
import { importImage, startContainerd } from './containerd.ts';
import { corednsManifests } from './coredns.ts';
import { HOST_IP, POD_CIDR, createBridge, createNodeNetwork, nodeIp, nodeNetns } from './host-network.ts';
import { readSysctls, restoreSysctls, type Sysctls } from './host-sysctls.ts';
import { buildNodeImages, type NodeImages } from './images.ts';
import { startNodeAgents } from './kubelet.ts';
import { startLoadBalancerController } from './load-balancer.ts';

const root = resolve(import.meta.dirname, '../../..');
// One cluster per host at a time: the network names are fixed. The lock names the owner and its directory.
const LOCK = '/run/weft-local-nodes.json';

export interface ClusterOptions {
  nodes?: number;
  /** Where everything lives; default a fresh temp dir removed by stop(). */
  dir?: string;
  log?: (line: string) => void;
}

export interface LocalNode {
  name: string;
  ip: string;
  netns: string;
  containerdSocket: string;
}

export interface LocalCluster {
  cp: ControlPlane;
  kubeconfigPath: string;
  nodes: LocalNode[];
  /** Image names every node already has (pause, CoreDNS, a static busybox). */
  images: Pick<NodeImages, 'pause' | 'coredns' | 'busybox'>;
  /** Imports an OCI or Docker image archive into every node. */
  importImage(archivePath: string): Promise<void>;
  /** Removes everything; `keepDir` keeps the directory (logs, configurations) for a look after a failure. */
  stop(o?: { keepDir?: boolean }): Promise<void>;
}

export type Cluster = LocalCluster;

/** Builds (first time) or finds kubelet, kube-proxy, kube-scheduler, CoreDNS and pause. */
export function nodeBinaries(log: (l: string) => void = () => {}): string {
  log('nodes: building or reusing kubelet, kube-proxy, kube-scheduler, coredns, pause (cached in ~/.cache/weft)');
  const out = execFileSync('bash', [join(root, 'hack/build-node.sh')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  return out.trim().split('\n').pop()!;
}

let current: LocalCluster | undefined;
let active = false;

/** The cluster this process is running, if any (tests share it rather than start a second one). */
export function runningCluster(): LocalCluster | undefined {
  return current;
}

const alive = (pid: number) => {
  try { process.kill(pid, 0); return true; } catch { return false; }
};

/**
 * Removes what a crashed run left (restoring the host settings it recorded), refusing while another live process
 * owns the cluster; returns the host settings to restore at stop.
 */
async function takeLock(dir: string): Promise<Sysctls> {
  const prev = existsSync(LOCK) ? JSON.parse(readFileSync(LOCK, 'utf8')) as { pid: number; dir: string; sysctls?: Sysctls } : undefined;
  if (prev && prev.pid !== process.pid && alive(prev.pid)) throw new Error(`a local cluster with real nodes is already running (pid ${prev.pid}, ${prev.dir})`);
  // Leftovers are found by name even without a lock (a wiped /run); the lock adds the directory and settings.
  await removeNodes(prev ? [prev.dir] : []);
  if (prev?.sysctls) restoreSysctls(prev.sysctls);
  const sysctls = readSysctls();
  writeFileSync(LOCK, JSON.stringify({ pid: process.pid, dir, sysctls }));
  return sysctls;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<LocalCluster> {
  const log = opts.log ?? (() => {});
  const count = opts.nodes ?? 2;
  if (process.getuid?.() !== 0) throw new Error('a local cluster with real nodes needs root');
  if (active) throw new Error('this process already runs a local cluster with real nodes (see runningCluster())');
  active = true;
  let bin: string;
  try {
    bin = nodeBinaries(log);
  } catch (e) {
    active = false;
    throw e;
  }
  const ownsDir = !opts.dir;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'weft-nodes-'));
  mkdirSync(dir, { recursive: true });
  const sysctls = await takeLock(dir).catch((e: unknown) => {
    active = false;
    throw e;
  });
  // kube-proxy and the CNI plugins find iptables on PATH: the backend that works in this kernel comes first.
  const env = { ...process.env, PATH: `${hostToolsBin()}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` };

  let cp: ControlPlane | undefined;
  let scheduler: Proc | undefined;
  const procs: Proc[] = [];
  let lb: ReturnType<typeof startLoadBalancerController> | undefined;
  const stop = async (o: { keepDir?: boolean } = {}) => {
    current = undefined;
    try {
      await lb?.stop();
      // Pods keep running without their kubelet; removeNodes() kills them with everything else.
      await Promise.all([...procs, ...(scheduler ? [scheduler] : [])].map((p) => stopProcess(p)));
      await cp?.stop({ keepDir: o.keepDir });
      await removeNodes([dir]);
      if (ownsDir && !o.keepDir) rmSync(dir, { recursive: true, force: true });
      restoreSysctls(sysctls);
      rmSync(LOCK, { force: true });
    } finally {
      active = false;
    }
  };

  try {
    createBridge();
    cp = await ControlPlane.start({
      dir: join(dir, 'control-plane'),
      controllerManager: true,
      controllerManagerArgs: [`--cluster-cidr=${POD_CIDR}`],
      kubelets: { address: HOST_IP },
      log,
    });
    const schedCred = await cp.issueClientCert('system:kube-scheduler');
    const schedKc = join(dir, 'control-plane', 'scheduler.kubeconfig');
    writeFileSync(schedKc, cp.kubeconfigFor('system:kube-scheduler', schedCred), { mode: 0o600 });
    scheduler = startProcess('kube-scheduler', join(bin, 'kube-scheduler'), [
      `--kubeconfig=${schedKc}`, `--authentication-kubeconfig=${schedKc}`, `--authorization-kubeconfig=${schedKc}`,
      `--bind-address=127.0.0.1`, `--secure-port=${await freePort()}`, `--leader-elect=false`, `--v=1`,
    ], join(dir, 'kube-scheduler.log'));

    const images = buildNodeImages(bin, join(dir, 'images'));
    const nodes: LocalNode[] = [];
    log(`nodes: starting ${count} (containerd, kubelet, kube-proxy in network namespaces)`);
    // allSettled: a failing node must not leave another one still starting while stop() runs.
    const started = await Promise.allSettled(Array.from({ length: count }, async (_, k) => {
      const i = k + 1;
      const name = `weft-node-${i}`;
      const nodeDir = join(dir, name);
      createNodeNetwork(i, count);
      createNodeCgroups(i);
      const ctrd = await startContainerd(i, join(nodeDir, 'containerd'), env);
      procs.push(ctrd.proc);
      for (const a of images.archives) await importImage(ctrd.socket, a);
      const agents = await startNodeAgents(cp!, bin, i, name, nodeDir, ctrd.socket, env);
      procs.push(agents.kubelet, agents.kubeProxy);
      nodes[k] = { name, ip: nodeIp(i), netns: nodeNetns(i), containerdSocket: ctrd.socket };
    }));
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    await waitFor('nodes Ready', async () => {
      const r = await cp!.kubectlAsync(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}']);
      return r.status === 0 && r.stdout.split('\n').filter((s) => s === 'True').length === count;
    }, 120_000);
    lb = startLoadBalancerController(cp, log);
    log('nodes: deploying CoreDNS');
    const applied = await cp.kubectlAsync(['apply', '-f', '-'], corednsManifests(images.coredns));
    if (applied.status !== 0) throw new Error(`applying CoreDNS: ${applied.stderr.trim()}`);
    const rolled = await cp.kubectlAsync(['rollout', 'status', '-n', 'kube-system', 'deployment/coredns', '--timeout=120s']);
    if (rolled.status !== 0) throw new Error(`CoreDNS did not become ready: ${rolled.stderr.trim()}`);
    const controlPlane = cp;
    return current = {
      cp: controlPlane,
      kubeconfigPath: controlPlane.kubeconfigPath,
      nodes,
      images: { pause: images.pause, coredns: images.coredns, busybox: images.busybox },
      importImage: async (archive) => {
        await Promise.all(nodes.map((n) => importImage(n.containerdSocket, archive)));
      },
      stop,
    };
  } catch (e) {
    await stop({ keepDir: true }).catch(() => {});
    throw new Error(`${(e as Error).message} (logs in ${dir})`, { cause: e });
  }
}
