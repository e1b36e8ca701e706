// The e2e tiers (see e2e-target.ts): each yields its MeshTarget once per run, or the reason it cannot run here.
// `kubeconfig`: WEFT_E2E_KUBECONFIG names a cluster where weft is installed (`kubectl apply -k config`) and the
// images of hack/build-images.sh are available. `k3s`: a k3s container from testcontainers, given those images and
// config/, where a Docker engine answers (`docker info`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { controlPlaneBinaries } from '../../hack/local-cluster/control-plane.ts';
import { startKubeMesh } from '../../hack/local-cluster/kube-mesh.ts';
import { localTarget, kubectlTarget, type MeshTarget } from './e2e-target.ts';
import { localClusterUnavailable, sharedMesh } from './e2e-mesh.ts';
import { skipOrRequireNetns } from './proxy-netns.ts';

const root = resolve(import.meta.dirname, '../..');
/** The non-mesh namespace and pod of the e2e workloads that requests "from outside the mesh" start from. */
const OUTSIDER = { namespace: 'e2e-plain', selector: 'app=outsider' };

/** A suite's `before` may be the first to start a tier: building images and starting nodes takes minutes. */
export const TIER_START_MS = 900_000;

export interface Tier {
  name: 'local' | 'nodes' | 'kubeconfig' | 'k3s';
  target(): Promise<MeshTarget> | { skip: string };
}

const memo = new Map<string, Promise<MeshTarget>>();
const cleanups: Array<() => Promise<void>> = [];

function once(name: string, make: () => Promise<MeshTarget>): Promise<MeshTarget> {
  let p = memo.get(name);
  if (!p) memo.set(name, (p = make()));
  return p;
}

function kubectlBin(): string {
  return join(controlPlaneBinaries(), 'kubectl');
}

/** The local cluster's real nodes (kubelet + containerd in network namespaces), weft installed from config/. */
function nodesTier(): Promise<MeshTarget> | { skip: string } {
  const why = localClusterUnavailable();
  if (why) return skipOrRequireNetns(why);
  return once('nodes', async () => {
    const mesh = await startKubeMesh({ dir: mkdtempSync(join(tmpdir(), 'weft-nodes-')), log: (l) => process.stderr.write(`      ${l}\n`) });
    cleanups.push(() => mesh.stop());
    return kubectlTarget('nodes', mesh.kubectlBin, mesh.kubeconfig, OUTSIDER);
  });
}

function kubeconfigTier(): Promise<MeshTarget> | { skip: string } {
  const kubeconfig = process.env.WEFT_E2E_KUBECONFIG;
  if (!kubeconfig) return { skip: 'no cluster named: set WEFT_E2E_KUBECONFIG to a cluster with weft installed (see hack/build-images.sh)' };
  return once('kubeconfig', async () => kubectlTarget('kubeconfig', kubectlBin(), kubeconfig, OUTSIDER));
}

/** The images the suite's pods run, as hack/build-images.sh builds them. */
function localImages(): string[] {
  const out = execFileSync('bash', [join(root, 'hack/build-images.sh'), '--list'], { encoding: 'utf8' });
  return out.trim().split('\n').filter(Boolean);
}

function k3sTier(): Promise<MeshTarget> | { skip: string } {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 10_000 });
  } catch (e) {
    const why = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim().split('\n').pop();
    return { skip: `no Docker engine for a k3s container (docker info: ${why})` };
  }
  return once('k3s', async () => {
    const { K3sContainer } = await import('@testcontainers/k3s');
    const k3s = await new K3sContainer(process.env.WEFT_E2E_K3S_IMAGE ?? 'rancher/k3s:v1.34.1-k3s1').start();
    cleanups.push(async () => void (await k3s.stop()));
    const dir = mkdtempSync(join(tmpdir(), 'weft-k3s-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, k3s.getKubeConfig(), { mode: 0o600 });
    // The images come from this machine's engine (hack/build-images.sh), not a registry.
    execFileSync('bash', [join(root, 'hack/build-images.sh')], { stdio: 'inherit' });
    const images = localImages();
    const tar = join(dir, 'images.tar');
    execFileSync('docker', ['save', '-o', tar, ...images], { stdio: 'inherit' });
    await k3s.copyFilesToContainer([{ source: tar, target: '/tmp/images.tar' }]);
    const imported = await k3s.exec(['ctr', '-n', 'k8s.io', 'images', 'import', '/tmp/images.tar']);
    if (imported.exitCode !== 0) throw new Error(`importing images into k3s: ${imported.output}`);
    const kubectl = kubectlBin();
    execFileSync(kubectl, ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-k', join(root, 'config')], { stdio: 'inherit' });
    execFileSync(kubectl, ['--kubeconfig', kubeconfig, 'rollout', 'status', 'deployment/weft-operator', '-n', 'weft-system', '--timeout=300s'], { stdio: 'inherit' });
    return kubectlTarget('k3s', kubectl, kubeconfig, OUTSIDER);
  });
}

/** Every tier, or those WEFT_E2E_TIERS names (comma-separated), e.g. `WEFT_E2E_TIERS=nodes npx mocha test/e2e/mesh.test.ts`. */
export function e2eTiers(): Tier[] {
  const only = process.env.WEFT_E2E_TIERS?.split(',').map((s) => s.trim()).filter(Boolean);
  return allTiers().filter((t) => !only || only.includes(t.name));
}

function allTiers(): Tier[] {
  return [
    {
      name: 'local',
      target: () => {
        const m = sharedMesh();
        return 'skip' in m ? m : once('local', () => m.then(localTarget));
      },
    },
    { name: 'nodes', target: nodesTier },
    { name: 'kubeconfig', target: kubeconfigTier },
    { name: 'k3s', target: k3sTier },
  ];
}

export async function stopTiers(): Promise<void> {
  for (const c of cleanups.splice(0)) await c().catch(() => {});
  memo.clear();
}
