// The whole of weft on the local cluster, for the demo and the e2e tests: the control plane with
// kube-controller-manager, the CRDs and config/ (RBAC, webhook configurations pointed at local processes), the
// operator and the admission webhook as local processes running as the operator's ServiceAccount, and the local
// node that runs pods. The webhook runs as its own process (`weft webhook`) so the operator can be stopped and
// started alone, as a dedicated admission Deployment allows in a cluster.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { ControlPlane } from './control-plane.ts';
import { installCrds, serviceAccountKubeConfig } from './manifests.ts';
import { LocalNode } from './node/node.ts';
import { freePort, startProcess, waitFor } from './processes.ts';

const root = resolve(import.meta.dirname, '../..');

export interface LocalMeshOptions {
  dir?: string;
  log?: (line: string) => void;
  /** The local node's periodic volume resync (default the kubelet's 60–90 s). */
  resyncMs?: [number, number];
}

/** A `weft` subcommand as a local process with its log in a file; restartable. */
export class WeftProcess {
  private child?: ChildProcess;
  readonly name: string;
  readonly logFile: string;
  private readonly args: string[];

  constructor(name: string, args: string[], logFile: string) {
    this.name = name;
    this.args = args;
    this.logFile = logFile;
  }

  private extra: string[] = [];

  /** Stops it and starts it again with `extraArgs` after its own (a changed flag, as a rollout would apply it). */
  async restart(extraArgs: string[]): Promise<void> {
    await this.stop();
    this.extra = extraArgs;
    this.start();
  }

  start(): void {
    this.child = startProcess(this.name, process.execPath, [join(root, 'src/cli/weft.ts'), ...this.args, ...this.extra], this.logFile).child;
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

export interface LocalMesh {
  cp: ControlPlane;
  admin: KubeConfig;
  node: LocalNode;
  operator: WeftProcess;
  webhook: WeftProcess;
  dir: string;
  stop(o?: { keepDir?: boolean }): Promise<void>;
}

/** What config/ runs in the cluster that the local mesh runs as local processes instead. */
const RUN_LOCALLY = new Set([
  'Deployment/weft-operator', 'PodDisruptionBudget/weft-operator', 'Deployment/weft-webhook', 'PodDisruptionBudget/weft-webhook', 'Service/weft-webhook',
]);

/** config/ as a user applies it, less the operator and the webhook (local processes here); CRDs come first. */
function installManifests(cp: ControlPlane, webhookPort: number): string {
  const docs = parseAllDocuments(cp.kubectl(['kustomize', join(root, 'config')])).map((d) => d.toJS() as Record<string, unknown> & { kind: string });
  return docs
    .filter((d) => d.kind !== 'CustomResourceDefinition' && !RUN_LOCALLY.has(`${d.kind}/${(d.metadata as { name?: string } | undefined)?.name}`))
    .map((d) => {
      if (d.kind === 'ValidatingWebhookConfiguration' || d.kind === 'MutatingWebhookConfiguration') {
        for (const w of (d.webhooks ?? []) as Array<{ clientConfig: { service?: { path?: string } } }>) {
          w.clientConfig = { url: `https://127.0.0.1:${webhookPort}${w.clientConfig.service?.path ?? '/'}` } as typeof w.clientConfig;
        }
      }
      return stringify(d);
    })
    .join('---\n');
}

export async function startLocalMesh(o: LocalMeshOptions = {}): Promise<LocalMesh> {
  const log = o.log ?? (() => {});
  const cp = await ControlPlane.start({ controllerManager: true, dir: o.dir, log });
  const parts: { node?: LocalNode; operator?: WeftProcess; webhook?: WeftProcess } = {};
  const stop = async (s: { keepDir?: boolean } = {}) => {
    await parts.node?.stop().catch((e: Error) => log(`local node stop: ${e.message}`));
    await Promise.all([parts.operator?.stop(), parts.webhook?.stop()]);
    await cp.stop(s);
  };
  try {
    const admin = cp.kubeConfig();
    log('installing the CRDs and config/ (RBAC, webhook configurations)');
    await installCrds(admin);
    const webhookPort = await freePort();
    await cp.kubectlAsync(['apply', '--server-side', '-f', '-'], installManifests(cp, webhookPort)).then((r) => {
      if (r.status !== 0) throw new Error(`applying config/: ${r.stderr}`);
    });
    const sa = await serviceAccountKubeConfig(admin, 'weft-system', 'weft-operator', 24 * 3600);
    const saKubeconfig = join(cp.dir, 'weft-operator.kubeconfig');
    writeFileSync(saKubeconfig, sa.exportConfig(), { mode: 0o600 });

    log('starting the operator and the admission webhook as ServiceAccount weft-system/weft-operator');
    parts.operator = new WeftProcess('operator', ['operator', '--kubeconfig', saKubeconfig, '--webhook=false'], join(cp.dir, 'operator.log'));
    parts.operator.start();
    parts.webhook = new WeftProcess('webhook', ['webhook', '--kubeconfig', saKubeconfig, '--webhook-host', '127.0.0.1', '--webhook-port', String(webhookPort)], join(cp.dir, 'webhook.log'));
    parts.webhook.start();
    await waitFor('the injector caBundle', async () => {
      const r = await cp.kubectlAsync(['get', 'mutatingwebhookconfiguration', 'weft-injector', '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']);
      return r.status === 0 && r.stdout.length > 0;
    }, 60_000);

    log('starting the local node');
    mkdirSync(join(cp.dir, 'node'), { recursive: true });
    parts.node = await LocalNode.start({ kc: admin, dir: join(cp.dir, 'node'), log, resyncMs: o.resyncMs });
    return { cp, admin, node: parts.node, operator: parts.operator, webhook: parts.webhook, dir: cp.dir, stop };
  } catch (e) {
    await stop({ keepDir: true });
    throw e;
  }
}
