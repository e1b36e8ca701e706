// A real Kubernetes control plane on loopback: etcd + kube-apiserver (+ kube-controller-manager when asked),
// with generated certificates, an admin kubeconfig and the RBAC authorizer. Used by the integration tests and
// the demo. In: options. Out: a running ControlPlane with its kubeconfig; stop() removes everything.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { createCa, issueLeaf, signingKeyPair, type Ca, type KeyPairPem } from '../../src/pki/certs.ts';
import { freePort, runCommand, startProcess, stopProcess, waitFor, type CommandResult, type Proc } from './processes.ts';

const root = resolve(import.meta.dirname, '../..');

export type KubectlResult = CommandResult;

export interface ControlPlaneOptions {
  /** Also run kube-controller-manager (EndpointSlices, garbage collection, service accounts…). */
  controllerManager?: boolean;
  /** Extra kube-controller-manager flags (a scale run raises its client rate limit). */
  controllerManagerArgs?: string[];
  /** Where state, certificates and logs live; default a fresh temp dir removed by stop(). */
  dir?: string;
  /** Progress lines (the demo prints them). */
  log?: (line: string) => void;
  /**
   * Serve real kubelets (hack/local-cluster/kubelet/): bind and advertise the API server on this address, one our
   * own code created (the local cluster's host bridge), instead of loopback; authorize nodes with the Node
   * authorizer, reach kubelets on their InternalIP with a client certificate, and keep the `kubernetes` Service's
   * endpoint current so pods reach the API server.
   */
  kubelets?: { address: string };
}

/** Builds (first time) or finds the cached binaries; WEFT_K8S_BIN overrides the location. */
export function controlPlaneBinaries(log: (l: string) => void = () => {}): string {
  if (process.env.WEFT_K8S_BIN) return process.env.WEFT_K8S_BIN;
  log('control plane: building or reusing kube-apiserver, kube-controller-manager, kubectl, etcd (cached in ~/.cache/weft)');
  const out = execFileSync('bash', [join(root, 'hack/build-control-plane.sh')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  return out.trim().split('\n').pop()!;
}

function kubeconfigYaml(server: string, caPem: string, user: string, cred: KeyPairPem): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'weft-local', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(cred.certPem), 'client-key-data': b64(cred.keyPem) } }],
    contexts: [{ name: 'weft-local', context: { cluster: 'weft-local', user, namespace: 'default' } }],
    'current-context': 'weft-local',
  });
}

export class ControlPlane {
  readonly bin: string;
  readonly dir: string;
  readonly server: string;
  readonly kubeconfigPath: string;
  private readonly ownsDir: boolean;
  private readonly apiArgs: string[];
  private readonly log: (l: string) => void;
  private etcd?: Proc;
  private apiserver?: Proc;
  private kcm?: Proc;
  private readonly ca: Ca;
  private readonly admin: KeyPairPem;

  /** The cluster CA's certificate (PEM); nodes trust it and present certificates it issued. */
  get caPem(): string {
    return this.ca.certPem;
  }

  /** A client credential from the cluster CA, e.g. system:node:<name> in group system:nodes for a kubelet. */
  issueClientCert(commonName: string, organizations: string[] = []): Promise<KeyPairPem> {
    return issueLeaf(this.ca, { commonName, organizations, client: true });
  }

  /** A serving certificate from the cluster CA (a kubelet's, which the API server verifies for logs and exec). */
  issueServingCert(commonName: string, ips: string[], dnsNames: string[] = []): Promise<KeyPairPem> {
    return issueLeaf(this.ca, { commonName, ips, dnsNames, server: true });
  }

  /** A kubeconfig for this API server with the given client credential. */
  kubeconfigFor(user: string, cred: KeyPairPem): string {
    return kubeconfigYaml(this.server, this.ca.certPem, user, cred);
  }

  private constructor(init: {
    bin: string; dir: string; ownsDir: boolean; server: string; apiArgs: string[]; ca: Ca; admin: KeyPairPem; log: (l: string) => void;
  }) {
    this.bin = init.bin;
    this.dir = init.dir;
    this.ownsDir = init.ownsDir;
    this.server = init.server;
    this.apiArgs = init.apiArgs;
    this.ca = init.ca;
    this.admin = init.admin;
    this.log = init.log;
    this.kubeconfigPath = join(this.dir, 'admin.kubeconfig');
  }

  static async start(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const log = opts.log ?? (() => {});
    const bin = controlPlaneBinaries(log);
    const ownsDir = !opts.dir;
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'weft-cp-'));
    mkdirSync(join(dir, 'pki'), { recursive: true });
    const pki = (name: string, content: string) => {
      const p = join(dir, 'pki', name);
      writeFileSync(p, content, { mode: 0o600 });
      return p;
    };

    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const address = opts.kubelets?.address ?? '127.0.0.1';
    const server = `https://${address}:${apiPort}`;
    const ca = await createCa('weft-local-ca');
    const serving = await issueLeaf(ca, {
      commonName: 'kube-apiserver',
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
      ips: ['127.0.0.1', '10.96.0.1', ...(address === '127.0.0.1' ? [] : [address])],
      server: true,
    });
    const admin = await issueLeaf(ca, { commonName: 'weft-admin', organizations: ['system:masters'], client: true });
    const kcmCred = await issueLeaf(ca, { commonName: 'system:kube-controller-manager', client: true });
    const sa = await signingKeyPair();

    const args = {
      ca: pki('ca.crt', ca.certPem),
      cert: pki('apiserver.crt', serving.certPem),
      key: pki('apiserver.key', serving.keyPem),
      saKey: pki('sa.key', sa.privatePem),
      saPub: pki('sa.pub', sa.publicPem),
    };
    const apiArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      `--bind-address=${address}`,
      `--advertise-address=${address}`,
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'pki')}`,
      `--tls-cert-file=${args.cert}`,
      `--tls-private-key-file=${args.key}`,
      `--client-ca-file=${args.ca}`,
      `--service-account-issuer=https://kubernetes.default.svc.cluster.local`,
      `--service-account-key-file=${args.saPub}`,
      `--service-account-signing-key-file=${args.saKey}`,
      `--service-cluster-ip-range=10.96.0.0/16`,
      `--authorization-mode=${opts.kubelets ? 'Node,RBAC' : 'RBAC'}`,
      `--allow-privileged=true`,
      `--profiling=false`,
      // Real nodes' pods reach the API server through the `kubernetes` Service, which then needs its endpoint.
      `--endpoint-reconciler-type=${opts.kubelets ? 'lease' : 'none'}`,
      `--v=1`,
    ];
    if (opts.kubelets) {
      const kubeletClient = await issueLeaf(ca, { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'], client: true });
      apiArgs.push(
        `--kubelet-preferred-address-types=InternalIP`,
        // Webhooks and aggregated APIs are called on their endpoints' pod IPs (routed to the nodes), never on a
        // ClusterIP: this host has no kube-proxy, and an unrouted address would take the default route off-machine.
        `--enable-aggregator-routing=true`,
        `--kubelet-certificate-authority=${args.ca}`,
        `--kubelet-client-certificate=${pki('apiserver-kubelet-client.crt', kubeletClient.certPem)}`,
        `--kubelet-client-key=${pki('apiserver-kubelet-client.key', kubeletClient.keyPem)}`,
      );
    }
    const cp = new ControlPlane({ bin, dir, ownsDir, server, apiArgs, ca, admin, log });
    writeFileSync(cp.kubeconfigPath, kubeconfigYaml(server, ca.certPem, 'weft-admin', admin), { mode: 0o600 });
    writeFileSync(join(dir, 'kcm.kubeconfig'), kubeconfigYaml(server, ca.certPem, 'kube-controller-manager', kcmCred), { mode: 0o600 });

    try {
      log(`control plane: starting etcd on 127.0.0.1:${etcdPort}`);
      cp.etcd = startProcess('etcd', join(bin, 'etcd'), [
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
        `--unsafe-no-fsync=true`, // test data: durability is not the point, speed is
        `--log-level=warn`,
      ], join(dir, 'etcd.log'));
      await cp.startApiServer();
      if (opts.controllerManager) await cp.startControllerManager(args.ca, args.saKey, opts.controllerManagerArgs ?? [], !!opts.kubelets);
      return cp;
    } catch (e) {
      await cp.stop({ keepDir: true });
      throw new Error(`${(e as Error).message} (logs in ${dir})`, { cause: e });
    }
  }

  private async startApiServer(): Promise<void> {
    this.log(`control plane: starting kube-apiserver on ${this.server}`);
    this.apiserver = startProcess('kube-apiserver', join(this.bin, 'kube-apiserver'), this.apiArgs, join(this.dir, 'kube-apiserver.log'));
    await waitFor('kube-apiserver /readyz', () => this.ready(), 120_000, this.apiserver);
  }

  private async startControllerManager(caFile: string, saKey: string, extra: string[], realNodes: boolean): Promise<void> {
    this.log('control plane: starting kube-controller-manager');
    const kc = join(this.dir, 'kcm.kubeconfig');
    this.kcm = startProcess('kube-controller-manager', join(this.bin, 'kube-controller-manager'), [
      `--kubeconfig=${kc}`,
      `--authentication-kubeconfig=${kc}`,
      `--authorization-kubeconfig=${kc}`,
      `--bind-address=127.0.0.1`,
      `--secure-port=${await freePort()}`,
      `--leader-elect=false`,
      `--use-service-account-credentials=true`,
      `--service-account-private-key-file=${saKey}`,
      `--root-ca-file=${caFile}`,
      `--cluster-name=weft-local`,
      // Real nodes have a lifecycle (heartbeats, taints); the imitation's do not.
      `--controllers=*,-nodeipam,${realNodes ? '' : '-nodelifecycle,'}-cloud-node-lifecycle,-service-lb-controller,-route`,
      `--v=1`,
      ...extra,
    ], join(this.dir, 'kube-controller-manager.log'));
  }

  /** GET /readyz with the admin certificate. */
  private ready(): Promise<boolean> {
    return new Promise((resolveReady) => {
      const req = request(`${this.server}/readyz`, { ca: this.ca.certPem, cert: this.admin.certPem, key: this.admin.keyPem, timeout: 2000 }, (res) => {
        res.resume();
        resolveReady(res.statusCode === 200);
      });
      req.on('error', () => resolveReady(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  /** kubectl from the same release, against this control plane; throws with kubectl's stderr on failure. */
  kubectl(args: string[], input?: string): string {
    const r = this.kubectlResult(args, input);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  kubectlResult(args: string[], input?: string): KubectlResult {
    const r = spawnSync(join(this.bin, 'kubectl'), ['--kubeconfig', this.kubeconfigPath, ...args], { encoding: 'utf8', input });
    return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
  }

  /**
   * kubectl without blocking the event loop: needed whenever this process also serves something the API server
   * calls back (a webhook under test, an in-process operator), which a synchronous kubectl would starve.
   */
  kubectlAsync(args: string[], input?: string): Promise<KubectlResult> {
    return runCommand(join(this.bin, 'kubectl'), ['--kubeconfig', this.kubeconfigPath, ...args], input);
  }

  /** Stops kube-apiserver and starts it again on the same port and etcd: clients see a real outage. */
  async restartApiServer(downMs = 0): Promise<void> {
    if (this.apiserver) await stopProcess(this.apiserver);
    if (downMs) await new Promise((r) => setTimeout(r, downMs));
    await this.startApiServer();
  }

  async stop(o: { keepDir?: boolean } = {}): Promise<void> {
    for (const p of [this.kcm, this.apiserver, this.etcd]) if (p) await stopProcess(p);
    if (this.ownsDir && !o.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
