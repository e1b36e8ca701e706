#!/usr/bin/env node
// weft: the mesh's binary. In: argv and environment (KUBECONFIG, in-cluster service account). Out: the operator
// or the sidecar proxy (`weft proxy`, proxy-cmd.ts) running until SIGTERM/SIGINT, then a graceful stop (the
// operator finishes in-flight writes, releases the leader lease and stops watches) and exit status 0; 2 on usage
// errors, 1 when startup fails.
import { parseArgs } from 'node:util';
// Each command loads its own code when it runs: the sidecar (`weft proxy`) must not pay the memory of the Kubernetes
// client and the operator, so only this file, the flag parsers and the logger are loaded up front.
import type { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../controllers/log.ts';
import { DEFAULT_LEASE_NAME, DEFAULT_NAMESPACE } from '../controllers/operator-defaults.ts';
import type { Operator } from '../controllers/operator.ts';
import { parseDuration, parseProxyArgs, PROXY_HELP, runProxy } from './proxy-cmd.ts';

const HELP = `weft — control plane of the weft service mesh

Usage:
  weft operator [flags]    run the operator (status of mesh resources; leader-elected)
  weft webhook [flags]     serve only the admission webhooks (validation, sidecar injection): a dedicated
                           Deployment keeps pods injectable whatever happens to the operator
  weft proxy [flags]       run the sidecar proxy (config and identity from mounted volumes)
  weft help                show this help

operator flags:
      --kubeconfig PATH              kubeconfig file (default: $KUBECONFIG, else in-cluster, else ~/.kube/config)
      --namespace NS                 namespace of the operator and its leader Lease (default "${DEFAULT_NAMESPACE}")
      --root-namespace NS            mesh root namespace (default "${DEFAULT_NAMESPACE}")
      --leader-elect=true|false      elect one active replica through a Lease (default true)
      --lease-name NAME              name of the Lease (default "${DEFAULT_LEASE_NAME}")
      --workers N                    concurrent reconciles (default 4)
      --outbound-traffic-policy P    ALLOW_ANY (default) or REGISTRY_ONLY: what sidecars do with hosts that no
                                     Service or ServiceEntry declares (pass through, or refuse); the mesh
                                     config (ConfigMap weft in the root namespace) overrides it
      --jwks-refresh-interval D      how often RequestAuthentication jwksUri key sets are fetched again
                                     (default 20m, as istiod)
      --webhook=true|false           serve the validating admission webhook (default true; every replica serves it)
      --webhook-host ADDR            address the webhook listens on (default 0.0.0.0)
      --webhook-port PORT            port of the webhook (default 9443)

webhook flags: --kubeconfig, --root-namespace, --webhook-host, --webhook-port, as for the operator.

${PROXY_HELP}
Logs are JSON lines on stderr; $WEFT_LOG_LEVEL sets the operator's level (debug, info, warn, error), --log-level the proxy's.
`;

class UsageError extends Error {}

export interface OperatorArgs {
  kubeconfig?: string;
  namespace: string;
  rootNamespace: string;
  leaderElect: boolean;
  leaseName: string;
  workers: number;
  webhook: { host: string; port: number } | undefined;
  outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  jwksRefreshMs: number;
}

export function parseOperatorArgs(argv: string[]): OperatorArgs {
  // `--leader-elect` alone means true.
  const args = argv.map((a) => (a === '--leader-elect' || a === '--webhook' ? `${a}=true` : a));
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string', default: DEFAULT_NAMESPACE },
        'root-namespace': { type: 'string', default: DEFAULT_NAMESPACE },
        'leader-elect': { type: 'string', default: 'true' },
        'lease-name': { type: 'string', default: DEFAULT_LEASE_NAME },
        workers: { type: 'string', default: '4' },
        webhook: { type: 'string', default: 'true' },
        'webhook-host': { type: 'string', default: '0.0.0.0' },
        'webhook-port': { type: 'string', default: '9443' },
        'outbound-traffic-policy': { type: 'string', default: 'ALLOW_ANY' },
        'jwks-refresh-interval': { type: 'string', default: '20m' },
      },
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const le = values['leader-elect'];
  if (le !== 'true' && le !== 'false') throw new UsageError(`--leader-elect must be true or false, not "${le}"`);
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a positive integer, not "${values.workers}"`);
  const wh = values.webhook;
  if (wh !== 'true' && wh !== 'false') throw new UsageError(`--webhook must be true or false, not "${wh}"`);
  const port = Number(values['webhook-port']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--webhook-port must be a port number, not "${values['webhook-port']}"`);
  const otp = values['outbound-traffic-policy'];
  if (otp !== 'ALLOW_ANY' && otp !== 'REGISTRY_ONLY') throw new UsageError(`--outbound-traffic-policy must be ALLOW_ANY or REGISTRY_ONLY, not "${otp}"`);
  const jwksRefreshMs = parseDuration(values['jwks-refresh-interval']);
  if (jwksRefreshMs === undefined || jwksRefreshMs < 1000) {
    throw new UsageError(`--jwks-refresh-interval must be a duration of at least 1s (e.g. 20m), not "${values['jwks-refresh-interval']}"`);
  }
  return {
    kubeconfig: values.kubeconfig,
    namespace: values.namespace,
    rootNamespace: values['root-namespace'],
    leaderElect: le === 'true',
    leaseName: values['lease-name'],
    workers,
    webhook: wh === 'true' ? { host: values['webhook-host'], port } : undefined,
    outboundTrafficPolicy: otp,
    jwksRefreshMs,
  };
}

/** --kubeconfig, else $KUBECONFIG, else the pod's service account, else ~/.kube/config. */
export async function loadKubeConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else if (!env.KUBECONFIG && env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

async function runOperator(argv: string[]): Promise<number> {
  const args = parseOperatorArgs(argv);
  const log = createLogger('weft');
  // A stray rejection in a library must not take the control plane down; it is logged and the loops go on.
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { error: reason }));
  let op: Operator;
  try {
    const { startOperator } = await import('../controllers/operator.ts');
    const { webhookHook } = await import('../webhooks/run.ts');
    op = await startOperator({
      kubeConfig: await loadKubeConfig(args.kubeconfig),
      namespace: args.namespace,
      rootNamespace: args.rootNamespace,
      leaderElect: args.leaderElect,
      leaseName: args.leaseName,
      workers: args.workers,
      outboundTrafficPolicy: args.outboundTrafficPolicy,
      jwks: { refreshMs: args.jwksRefreshMs },
      log: log.child('operator'),
      webhook: args.webhook ? webhookHook({ ...args.webhook, rootNamespace: args.rootNamespace }) : undefined,
    });
  } catch (err) {
    log.error('operator failed to start', { error: err });
    return 1;
  }
  return serveUntilSignal(log, () => op.stop());
}

/** Runs until SIGTERM/SIGINT, then stops gracefully (30 s at most; a second signal exits at once). */
function serveUntilSignal(log: ReturnType<typeof createLogger>, stop: () => Promise<void>): Promise<number> {
return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn('second signal, exiting now', { signal });
        resolve(1);
        return;
      }
      stopping = true;
      log.info('shutting down', { signal });
      const force = setTimeout(() => {
        log.warn('graceful shutdown took too long, exiting');
        resolve(1);
      }, 30_000);
      force.unref();
      stop().then(
        () => {
          clearTimeout(force);
          resolve(0);
        },
        (err: unknown) => {
          log.error('shutdown failed', { error: err });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

async function runWebhookOnly(argv: string[]): Promise<number> {
  const args = parseOperatorArgs(argv);
  if (!args.webhook) throw new UsageError('weft webhook serves the webhook: --webhook=false makes no sense here');
  const log = createLogger('weft');
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { error: reason }));
  const { runWebhook } = await import('../webhooks/run.ts');
  const running = await runWebhook(await loadKubeConfig(args.kubeconfig), log.child('webhook'), { ...args.webhook, rootNamespace: args.rootNamespace });
  log.info('webhook serving', { port: running.port });
  return serveUntilSignal(log, () => running.stop());
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'operator':
        return await runOperator(rest);
      case 'webhook':
        return await runWebhookOnly(rest);
      case 'proxy':
        return await runProxy(parseProxyArgs(rest, (m) => new UsageError(m)));
      case 'help':
      case '-h':
      case '--help':
        process.stdout.write(HELP);
        return 0;
      case undefined:
        throw new UsageError('');
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) process.stderr.write(`weft: ${e.message}\n\n`);
    process.stderr.write(HELP);
    return 2;
  }
}

// Exits explicitly once stopped: keep-alive sockets of the HTTP client would otherwise hold the process open.
if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`weft: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
