// One node's kubelet and kube-proxy, in the node's network namespace. The kubelet authenticates as
// system:node:<name> with a certificate from the cluster CA and serves with one too (the API server verifies it
// for logs and exec); kube-proxy runs in iptables mode as system:kube-proxy.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ControlPlane } from '../control-plane.ts';
import { startProcess, waitFor, type Proc } from '../processes.ts';
import { nodeCgroup } from './cleanup.ts';
import { CLUSTER_DNS, POD_CIDR, nodeIp, nodeNetns, nodePodCidr, probe } from './host-network.ts';

export interface NodeAgents {
  kubelet: Proc;
  kubeProxy: Proc;
}

function kubeletConfig(i: number, dir: string, socket: string, pki: { ca: string; cert: string; key: string }, resolvConf: string): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // Cgroup v1 hierarchies are mounted here; cgroupfs, since there is no systemd to delegate to.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    // Each node has its own cgroup parent so two kubelets on one host never share kubepods.
    cgroupRoot: nodeCgroup(i),
    containerRuntimeEndpoint: `unix://${socket}`,
    podLogsDir: join(dir, 'pod-logs'),
    address: nodeIp(i),
    port: 10250,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    readOnlyPort: 0,
    tlsCertFile: pki.cert,
    tlsPrivateKeyFile: pki.key,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: pki.ca } },
    authorization: { mode: 'Webhook' },
    clusterDomain: 'cluster.local',
    clusterDNS: [CLUSTER_DNS],
    resolvConf,
    podCIDR: nodePodCidr(i),
    failSwapOn: false,
    // Test clusters share one disk with everything else: only evict when it is really full, and never collect
    // images (they are imported, not pullable).
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    syncFrequency: '10s',
    fileCheckFrequency: '5s',
    nodeStatusUpdateFrequency: '5s',
    maxPods: 60,
  });
}

function kubeProxyConfig(name: string, kubeconfig: string): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    hostnameOverride: name,
    clusterCIDR: POD_CIDR,
    clientConnection: { kubeconfig },
    bindAddress: '0.0.0.0',
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    // conntrack limits are host-wide: leave them alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    iptables: { syncPeriod: '5s', minSyncPeriod: '0s' },
  });
}

const inNode = (i: number, cmd: string, args: string[]) => ['--net=/run/netns/' + nodeNetns(i), cmd, ...args];

/** Starts the kubelet and kube-proxy of node i; resolves once the kubelet's health endpoint answers. */
export async function startNodeAgents(cp: ControlPlane, bin: string, i: number, name: string, dir: string, socket: string, env: NodeJS.ProcessEnv): Promise<NodeAgents> {
  const pkiDir = join(dir, 'pki');
  mkdirSync(pkiDir, { recursive: true });
  mkdirSync(join(dir, 'pod-logs'), { recursive: true });
  const put = (f: string, content: string) => {
    writeFileSync(join(pkiDir, f), content, { mode: 0o600 });
    return join(pkiDir, f);
  };
  const nodeCred = await cp.issueClientCert(`system:node:${name}`, ['system:nodes']);
  const serving = await cp.issueServingCert(name, [nodeIp(i)], [name]);
  const proxyCred = await cp.issueClientCert('system:kube-proxy');
  const pki = { ca: put('ca.crt', cp.caPem), cert: put('kubelet.crt', serving.certPem), key: put('kubelet.key', serving.keyPem) };
  const kubeletKc = put('kubelet.kubeconfig', cp.kubeconfigFor(`system:node:${name}`, nodeCred));
  const proxyKc = put('kube-proxy.kubeconfig', cp.kubeconfigFor('system:kube-proxy', proxyCred));
  // Pods with dnsPolicy Default get this: the cluster DNS too, so nothing a pod resolves ever leaves the machine.
  const resolvConf = join(dir, 'resolv.conf');
  writeFileSync(resolvConf, `nameserver ${CLUSTER_DNS}\n`);
  writeFileSync(join(dir, 'kubelet.yaml'), kubeletConfig(i, dir, socket, pki, resolvConf));
  writeFileSync(join(dir, 'kube-proxy.yaml'), kubeProxyConfig(name, proxyKc));

  const kubelet = startProcess(`kubelet-${i}`, 'nsenter', inNode(i, join(bin, 'kubelet'), [
    `--config=${join(dir, 'kubelet.yaml')}`,
    `--kubeconfig=${kubeletKc}`,
    `--root-dir=${join(dir, 'kubelet')}`,
    `--hostname-override=${name}`,
    `--node-ip=${nodeIp(i)}`,
    `--v=1`,
  ]), join(dir, 'kubelet.log'), env);
  const kubeProxy = startProcess(`kube-proxy-${i}`, 'nsenter', inNode(i, join(bin, 'kube-proxy'), [
    `--config=${join(dir, 'kube-proxy.yaml')}`,
    `--v=1`,
  ]), join(dir, 'kube-proxy.log'), env);
  await waitFor(`kubelet on node ${i}`, async () =>
    (await probe('nsenter', inNode(i, 'busybox', ['wget', '-q', '-O', '-', 'http://127.0.0.1:10248/healthz']), 5000)).stdout === 'ok',
  120_000, kubelet);
  return { kubelet, kubeProxy };
}
