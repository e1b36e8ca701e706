// One node's containerd (Debian's 1.6) with its own root, state, socket and CNI configuration under the node's
// directory, run inside the node's network namespace so its pods' CNI bridge lives there.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, waitFor, type Proc } from '../processes.ts';
import { nodeNetns, nodePodCidr, probe } from './host-network.ts';

export const PAUSE_IMAGE = 'weft.local/pause:3.10';

export interface Containerd {
  socket: string;
  proc: Proc;
}

function cniConfig(i: number, dir: string): string {
  return JSON.stringify({
    cniVersion: '0.4.0',
    name: 'weft-pods',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        // No masquerading: the host and other nodes route pod ranges, so pods see each other's real addresses.
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), ranges: [[{ subnet: nodePodCidr(i) }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2);
}

function config(dir: string, socket: string): string {
  // restrict_oom_score_adj: processes here lack CAP_SYS_RESOURCE, so runc cannot lower a container's
  // oom_score_adj below its own and fails every sandbox ("can't get final child's PID from pipe") without it.
  return `version = 2
root = "${join(dir, 'root')}"
state = "${join(dir, 'state')}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "${socket}"

[ttrpc]
  address = "${socket}.ttrpc"

[debug]
  level = "warn"

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${join(dir, 'cni')}"
    max_conf_num = 1
`;
}

/** Starts node i's containerd under `dir` and waits for its socket to answer. */
export async function startContainerd(i: number, dir: string, env: NodeJS.ProcessEnv): Promise<Containerd> {
  mkdirSync(join(dir, 'cni'), { recursive: true });
  const socket = join(dir, 'containerd.sock');
  writeFileSync(join(dir, 'cni', '10-weft-pods.conflist'), cniConfig(i, dir));
  writeFileSync(join(dir, 'config.toml'), config(dir, socket));
  const proc = startProcess(`containerd-${i}`, 'nsenter', [`--net=/run/netns/${nodeNetns(i)}`, 'containerd', '--config', join(dir, 'config.toml')],
    join(dir, 'containerd.log'), env);
  await waitFor(`containerd on node ${i}`, async () => (await probe('ctr', ['-a', socket, 'version'], 5000)).status === 0, 60_000, proc);
  return { socket, proc };
}

/** Imports an OCI or Docker archive into containerd's Kubernetes namespace, where the kubelet finds it. */
export async function importImage(socket: string, archive: string): Promise<void> {
  const r = await probe('ctr', ['-a', socket, '-n', 'k8s.io', 'images', 'import', archive], 300_000);
  if (r.status !== 0) throw new Error(`ctr images import ${archive} failed: ${r.stderr.trim()}`);
}
