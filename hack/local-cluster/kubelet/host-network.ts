// The local cluster's network, all on this host and all created here:
//   host bridge weftk0 10.200.0.1/24 (the API server listens there)
//   node i: network namespace weftk-n<i>, veth weftk-n<i> (host side, on the bridge) <-> eth0 10.200.0.(10+i)
//   pods of node i: 10.244.i.0/24 on a CNI bridge inside the node's namespace
//   LoadBalancer pool 10.200.1.0/24: the host routes it via node 1, whose kube-proxy serves those IPs.
//   Service ClusterIPs 10.96.0.0/16: the host routes them via node 1 too, so a host process (the API server, a test)
//   reaching a ClusterIP goes through kube-proxy instead of taking the host's default route off-machine.
// Host routes send 10.244.i.0/24 to node i; each node routes the other nodes' pod ranges over the bridge.
// Nothing here is routed off-machine: the host does not forward, so anything not for these ranges dies at the host.
import { execFile, execFileSync } from 'node:child_process';

export const PREFIX = 'weftk';
export const BRIDGE = `${PREFIX}0`;
export const HOST_IP = '10.200.0.1';
export const SERVICE_CIDR = '10.96.0.0/16';
export const CLUSTER_DNS = '10.96.0.10';
export const POD_CIDR = '10.244.0.0/16';
export const LB_POOL = '10.200.1.0/24';

export const nodeIp = (i: number) => `10.200.0.${10 + i}`;
export const nodePodCidr = (i: number) => `10.244.${i}.0/24`;
export const nodeNetns = (i: number) => `${PREFIX}-n${i}`;

export function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
}

/** A command's exit status and output, without blocking; stdin is closed (nothing to write, so no EPIPE). */
export function probe(cmd: string, args: string[], timeoutMs = 10_000): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = (err as { code?: unknown } | null)?.code;
      resolve({ status: err ? (typeof code === 'number' ? code : -1) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

/** Runs a command in a network namespace. nsenter, not `ip netns exec`, which remounts /sys and hides cgroup v1. */
export function inNetns(netns: string, cmd: string, args: string[], input?: string): string {
  return run('nsenter', [`--net=/run/netns/${netns}`, cmd, ...args], input);
}

export function createBridge(): void {
  run('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  run('ip', ['addr', 'add', `${HOST_IP}/24`, 'dev', BRIDGE]);
  run('ip', ['link', 'set', BRIDGE, 'up']);
}

/** Node i's namespace, veth and addresses, and its routes to the other `count` nodes' pods. */
export function createNodeNetwork(i: number, count: number): void {
  const ns = nodeNetns(i);
  run('ip', ['netns', 'add', ns]);
  run('ip', ['link', 'add', ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  run('ip', ['link', 'set', ns, 'master', BRIDGE, 'up']);
  const sh = (script: string) => inNetns(ns, 'sh', ['-ec', script]);
  sh([
    'ip link set lo up',
    `ip addr add ${nodeIp(i)}/24 dev eth0`,
    'ip link set eth0 up',
    // Pods' replies and anything unknown go to the host, which does not forward: traffic stays on this machine.
    `ip route add default via ${HOST_IP}`,
    'echo 1 > /proc/sys/net/ipv4/ip_forward',
    // kube-proxy's rules must see traffic between pods on the same CNI bridge.
    'if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables; fi',
  ].join('\n'));
  for (let j = 1; j <= count; j++) if (j !== i) sh(`ip route add ${nodePodCidr(j)} via ${nodeIp(j)}`);
  run('ip', ['route', 'add', nodePodCidr(i), 'via', nodeIp(i)]);
  if (i === 1) for (const range of [LB_POOL, SERVICE_CIDR]) run('ip', ['route', 'add', range, 'via', nodeIp(1)]);
}

/** Names of network namespaces on this host. */
export function listNetns(): string[] {
  return run('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

export function netnsPids(ns: string): number[] {
  try {
    return run('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function deleteNetns(ns: string): void {
  try { run('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
}

/** Host links of the local cluster (bridge and node veths); removing the bridge also removes its routes. */
export function removeHostLinks(): void {
  const links = run('ip', ['-o', 'link', 'show']).split('\n')
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1])
    .filter((n): n is string => !!n && n.startsWith(PREFIX));
  for (const l of links.filter((n) => n !== BRIDGE)) {
    try { run('ip', ['link', 'del', l]); } catch { /* gone with its namespace */ }
  }
  if (links.includes(BRIDGE)) run('ip', ['link', 'del', BRIDGE]);
}
