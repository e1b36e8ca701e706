// weft on the local cluster's real nodes, installed as a user installs it: the images imported into every node's
// containerd (there is no registry), then `kubectl apply --server-side -k config`, and the operator and webhook
// Deployments rolled out from the weft image. In: options. Out: the cluster, its kubeconfig and kubectl; stop()
// tears all of it down.
import { join, resolve } from 'node:path';
import { ensureImages } from '../images/index.ts';
import { startCluster, type Cluster } from './kubelet/cluster.ts';
import { runCommand, waitFor, type CommandResult } from './processes.ts';

const root = resolve(import.meta.dirname, '../..');

export interface KubeMeshOptions {
  nodes?: number;
  dir?: string;
  log?: (line: string) => void;
}

export interface KubeMesh {
  cluster: Cluster;
  kubeconfig: string;
  kubectlBin: string;
  kubectl(args: string[], input?: string, timeoutMs?: number): Promise<CommandResult>;
  stop(o?: { keepDir?: boolean }): Promise<void>;
}

export async function startKubeMesh(o: KubeMeshOptions = {}): Promise<KubeMesh> {
  const log = o.log ?? (() => {});
  // The images build (or come from the cache) while the nodes start.
  const images = ensureImages(log);
  images.catch(() => {});
  const cluster = await startCluster({ nodes: o.nodes ?? 2, dir: o.dir, log });
  const kubectlBin = join(cluster.cp.bin, 'kubectl');
  const kubeconfig = cluster.kubeconfigPath;
  const kubectl = (args: string[], input?: string, timeoutMs?: number) => runCommand(kubectlBin, ['--kubeconfig', kubeconfig, ...args], input, timeoutMs);
  const must = async (args: string[], input?: string, timeoutMs?: number) => {
    const r = await kubectl(args, input, timeoutMs);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  try {
    const archives = await images;
    log(`importing ${archives.length} images into ${cluster.nodes.length} nodes`);
    for (const a of archives) await cluster.importImage(a);
    log('installing weft: kubectl apply --server-side -k config');
    // The CRDs must be established before the resources of their kinds in the same apply.
    await must(['apply', '--server-side', '-k', join(root, 'crds')]);
    await must(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
    await must(['apply', '--server-side', '-k', join(root, 'config')]);
    for (const d of ['weft-operator', 'weft-webhook']) {
      await must(['rollout', 'status', `deployment/${d}`, '-n', 'weft-system', '--timeout=300s'], undefined, 320_000);
    }
    await waitFor('the injector caBundle', async () => {
      const r = await kubectl(['get', 'mutatingwebhookconfiguration', 'weft-injector', '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']);
      return r.status === 0 && r.stdout.length > 0;
    }, 120_000);
    log('weft is running on the nodes');
    return { cluster, kubeconfig, kubectlBin, kubectl, stop: (s) => cluster.stop(s) };
  } catch (e) {
    await cluster.stop({ keepDir: true }).catch(() => {});
    throw e;
  }
}
