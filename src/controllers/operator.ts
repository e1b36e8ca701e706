// The operator process: informers → workqueue → reconciler → status writer, and informers → distribution loop
// → per-workload ConfigMaps (src/controllers/distribution), and informers → workload identity Secrets and trust
// bundles (src/controllers/identity), all gated by leader election.
// In: a KubeConfig and options. Out: a running operator with `stop()`.
// Every replica runs the informers (so a successor starts warm) and the webhook (admission must not depend on
// leadership); only the leader reconciles and writes status. Reconciling waits until every cache has synced, so a
// half-filled cache never produces a false "not found".
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { validateResource } from '../validate/index.ts';
import { createDistribution, type Distribution, type DistributionSetup } from './distribution/index.ts';
import type { DistributionStats } from './distribution/loop.ts';
import { createIdentity, type Identity, type IdentityOptions } from './identity/index.ts';
import type { IdentityStats } from './identity/controller.ts';
import { Informer, type InformerOptions } from './informer.ts';
import { JwksFetcher, type JwksFetcherOptions } from './jwks/fetcher.ts';
import { jwksUses, selectsAWorkload } from './jwks/uris.ts';
import { MeshConfigWatch, type MeshConfigReporter } from './mesh/config-watch.ts';
import { MeshSettings } from './mesh/settings.ts';
import { LeaderElector, kubeLeaseStore } from './leader.ts';
import { createLogger, type Logger } from './log.ts';
import { DEFAULT_LEASE_NAME, DEFAULT_NAMESPACE } from './operator-defaults.ts';
import { CacheMeshView } from './mesh-view.ts';
import { DEPENDENCIES, RECONCILED, queueKey, reconcile, type Validate } from './reconciler.ts';
import { MESH_TYPES, PODS, SERVICES, type ResourceType } from './resources.ts';
import { KubeStatusWriter, type StatusObject, type StatusWriter } from './status-writer.ts';
import { realTimers, type Timers } from './timers.ts';
import { startUnsupportedKinds } from './unsupported-kinds.ts';
import { Requeue, WorkQueue } from './workqueue.ts';

export { DEFAULT_LEASE_NAME, DEFAULT_NAMESPACE } from './operator-defaults.ts';

/**
 * The admission webhook runs in the same process. Whoever owns src/webhooks supplies `start`; the operator calls
 * it at startup on every replica and stops what it returns on shutdown.
 */
export interface WebhookHook {
  start(ctx: { kubeConfig: KubeConfig; log: Logger }): Promise<{ stop(): Promise<void> | void }>;
}

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  /** Where the Lease lives (default weft-system). */
  namespace?: string;
  /** Mesh root namespace: its policies apply mesh-wide (default weft-system). */
  rootNamespace?: string;
  leaderElect?: boolean;
  leaseName?: string;
  /** Defaults to `<hostname>_<uuid>`. */
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  workers?: number;
  /** Reconcile everything this often as a safety net (default 10 min; 0 turns it off). */
  resyncPeriodMs?: number;
  /** Restart backoff of the informers (defaults 500 ms doubling to 30 s). */
  informerRetry?: { baseMs?: number; maxMs?: number };
  validate?: Validate;
  statusWriter?: StatusWriter;
  log?: Logger;
  timers?: Timers;
  webhook?: WebhookHook;
  /** Namespaces whose Secrets gateway credentials are read from (default: the root namespace, weft-system). */
  gatewayNamespaces?: readonly string[];
  /** Mesh option: where sidecars send traffic for hosts no Service or ServiceEntry declares (default ALLOW_ANY);
   * the mesh config's outboundTrafficPolicy.mode overrides it. */
  outboundTrafficPolicy?: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** Name of the mesh config ConfigMap in the root namespace (default `weft`, key `mesh`). */
  meshConfigName?: string;
  /** Test seam: where the mesh config verdict (annotation, Event) is written. */
  meshConfigReporter?: MeshConfigReporter;
  /** Fetching RequestAuthentication key sets (jwksUri): refresh period (default 20 min), timeout, size limit,
   * retry backoff. */
  jwks?: Omit<JwksFetcherOptions, 'onChange' | 'log' | 'timers'>;
  /** Per-workload proxy config (default on); `false` runs status only. */
  distribution?: false | Pick<DistributionSetup, 'writer' | 'tuning'>;
  /** Workload certificates and trust bundles from the mesh CA (default on); `false` turns them off. */
  workloadIdentity?: false | IdentityOptions;
  /** Events on objects of Istio kinds weft does not support, where their CRDs are installed (default on). */
  unsupportedKinds?: false | { discoveryPeriodMs?: number };
}

export interface Operator {
  readonly identity: string;
  isLeader(): boolean;
  /** Resolves once every informer has its first full list. */
  waitForSync(): Promise<void>;
  /** Resolves when no reconcile is queued or running. */
  idle(): Promise<void>;
  /** Queues every mesh object for reconciling. */
  resync(): void;
  stats(): { reconciles: number; writes: number; conflicts: number; distribution?: DistributionStats; identity?: IdentityStats };
  /** The workload identity part, unless turned off. */
  readonly workloadIdentity?: Identity;
  /** Resolves when the distribution has no batch due or running. */
  distributed(): Promise<void>;
  stop(): Promise<void>;
}

type Obj = StatusObject & { spec?: Record<string, unknown>; status?: StatusObject['status'] & { phase?: string } };

export async function startOperator(opts: OperatorOptions): Promise<Operator> {
  const kc = opts.kubeConfig;
  const log = opts.log ?? createLogger('operator');
  const timers = opts.timers ?? realTimers;
  const namespace = opts.namespace ?? DEFAULT_NAMESPACE;
  const rootNamespace = opts.rootNamespace ?? DEFAULT_NAMESPACE;
  const identity = opts.identity ?? `${hostname()}_${randomUUID()}`;
  const validate: Validate = opts.validate ?? ((obj) => validateResource(obj, { rootNamespace }));
  const writer = opts.statusWriter ?? new KubeStatusWriter(kc);
  const counters = { reconciles: 0, writes: 0, conflicts: 0 };
  const settings = new MeshSettings({
    rootNamespace,
    outboundTrafficPolicy: opts.outboundTrafficPolicy,
    trustDomain: opts.workloadIdentity ? opts.workloadIdentity.trustDomain : undefined,
  });

  const webhook = opts.webhook ? await opts.webhook.start({ kubeConfig: kc, log: log.child('webhook') }) : undefined;

  const informer = (type: ResourceType, extra: Partial<InformerOptions<Obj>> = {}): Informer<Obj> =>
    new Informer<Obj>({ kubeConfig: kc, type, log, timers, retryBaseMs: opts.informerRetry?.baseMs, retryMaxMs: opts.informerRetry?.maxMs, ...extra });
  const caches = new Map<string, Informer<Obj>>(MESH_TYPES.map((t) => [t.kind, informer(t)]));
  const services = informer(SERVICES);
  const pods = informer(PODS);
  const distribution: Distribution | undefined =
    opts.distribution === false
      ? undefined
      : createDistribution({
          kubeConfig: kc,
          informer: informer as unknown as DistributionSetup['informer'],
          existing: new Map<string, Informer<KubernetesObject>>([...caches, ['Service', services], ['Pod', pods]]),
          validate,
          rootNamespace,
          gatewayNamespaces: opts.gatewayNamespaces ?? [rootNamespace],
          meshOptions: () => settings.options(),
          // Called only after batches, which run once everything below is set up.
          onProgrammed: (keys) => {
            if (leading && synced && !stopping) for (const k of keys) queue.add(k);
          },
          timers,
          log: log.child('distribution'),
          ...opts.distribution,
        });
  const workloadIdentity: Identity | undefined =
    opts.workloadIdentity === false
      ? undefined
      : createIdentity({
          kubeConfig: kc,
          informer: informer as unknown as DistributionSetup['informer'],
          existing: new Map<string, Informer<KubernetesObject>>([
            ['Pod', pods],
            ...(distribution?.informers ?? []).map((i) => [i.type.kind, i] as [string, Informer<KubernetesObject>]),
          ]),
          log: log.child('identity'),
          ...opts.workloadIdentity,
          timers: opts.workloadIdentity?.timers ?? timers,
        });
  const meshConfig = new MeshConfigWatch({
    kubeConfig: kc,
    informer: informer as unknown as DistributionSetup['informer'],
    namespace: rootNamespace,
    name: opts.meshConfigName,
    settings,
    reporter: opts.meshConfigReporter,
    isLeader: () => leading && !stopping,
    log: log.child('mesh-config'),
    onApplied: () => {
      distribution?.loop.optionsChanged();
      // CUSTOM policies name extension providers.
      if (leading && synced) enqueueKind('AuthorizationPolicy');
    },
  });
  // Key sets of the RequestAuthentications' jwksUris: fetched by every replica (a successor starts warm).
  const jwks = new JwksFetcher({
    ...opts.jwks,
    timers,
    log: log.child('jwks'),
    onChange: (uris) => {
      settings.setJwks(jwks.all());
      const uses = jwksUses(cache('RequestAuthentication').list());
      const keys = [...new Set(uris.flatMap((u) => uses.get(u)?.users ?? []))];
      distribution?.loop.refresh(keys);
      if (leading && synced && !stopping) for (const k of keys) queue.add(k);
    },
  });
  const all = [
    meshConfig.informer as Informer<Obj>,
    ...caches.values(),
    services,
    pods,
    ...((distribution?.informers ?? []) as Array<Informer<Obj>>),
    ...((workloadIdentity?.informers ?? []) as Array<Informer<Obj>>),
  ];
  const cache = (kind: string): Informer<Obj> => caches.get(kind)!;
  const view = new CacheMeshView(
    {
      services,
      pods,
      gateways: cache('Gateway'),
      virtualServices: cache('VirtualService'),
      destinationRules: cache('DestinationRule'),
      serviceEntries: cache('ServiceEntry'),
      workloadEntries: cache('WorkloadEntry'),
      ...(distribution ? { secrets: distribution.secrets } : {}),
      mesh: settings,
    },
    rootNamespace,
  );

  const queue = new WorkQueue({ workers: opts.workers ?? 4, timers, log: log.child('queue') });
  let leading = false;
  let synced = false;
  let stopping = false;

  const enqueueKind = (kind: string, ns?: string): void => {
    for (const o of cache(kind).list(ns)) queue.add(queueKey(kind, o));
  };
  const resync = (): void => {
    if (!leading || !synced || stopping) return;
    distribution?.loop.activate();
    workloadIdentity?.activate();
    meshConfig.report();
    for (const kind of RECONCILED.keys()) enqueueKind(kind);
  };
  const enqueueDependents = (sourceKind: string, ns: string): void => {
    if (!leading || !synced) return; // becoming leader or synced resyncs everything anyway
    for (const dep of DEPENDENCIES) {
      if (dep.source !== sourceKind) continue;
      for (const kind of dep.dependents) {
        if (dep.scope === 'all') enqueueKind(kind);
        else {
          enqueueKind(kind, ns);
          if (ns !== rootNamespace) enqueueKind(kind, rootNamespace);
        }
      }
    }
  };

  // The key sets wanted: those of the RequestAuthentications that select a workload (so again when pods change).
  const wantJwks = (): void => {
    const used = cache('RequestAuthentication').list().filter((ra) => selectsAWorkload(ra, rootNamespace, (ns) => view.workloadLabels(ns)));
    const uses = jwksUses(used);
    jwks.want(new Map([...uses].map(([uri, u]) => [uri, { timeoutMs: u.timeoutMs, discover: u.discover }])));
  };
  cache('RequestAuthentication').onChange(wantJwks);
  // Pod changes come by the thousand at start-up: one recomputation per burst, not one scan of every pod per pod.
  let jwksTimer: unknown;
  const wantJwksSoon = (): void => {
    if (jwksTimer !== undefined || cache('RequestAuthentication').list().length === 0) return;
    jwksTimer = timers.setTimeout(() => {
      jwksTimer = undefined;
      if (!stopping) wantJwks();
    }, 100);
  };
  for (const [kind, inf] of caches) {
    inf.onChange((key) => {
      if (leading && synced) queue.add(`${kind}/${key}`);
      enqueueDependents(kind, key.split('/')[0] ?? '');
    });
  }
  services.onChange((key) => enqueueDependents('Service', key.split('/')[0] ?? ''));
  // A credential Secret appearing or going changes the ResolvedRefs of the Gateways naming it.
  distribution?.secrets.onChange(() => {
    if (leading && synced) enqueueKind('Gateway');
  });
  // Pods change all the time (status, conditions); only their labels and liveness matter to selectors.
  const podSeen = new Map<string, string>();
  pods.onChange((key) => {
    const pod = pods.getByKey(key);
    const phase = pod?.status?.phase;
    const sig = pod ? JSON.stringify([pod.metadata?.labels ?? {}, phase === 'Succeeded' || phase === 'Failed']) : undefined;
    if (sig === podSeen.get(key)) return;
    if (sig === undefined) podSeen.delete(key);
    else podSeen.set(key, sig);
    wantJwksSoon();
    enqueueDependents('Pod', key.split('/')[0] ?? '');
  });

  queue.run(async (key) => {
    if (!leading || !synced || stopping) return;
    counters.reconciles++;
    const outcome = await reconcile(key, { caches, view, writer, validate, log, programmed: distribution?.programmed, analysis: distribution?.analysis });
    if (outcome === 'written') counters.writes++;
    if (outcome === 'conflict') {
      counters.conflicts++;
      throw new Requeue('status write raced a newer version of the object');
    }
  });

  for (const inf of all) inf.start();
  const unsupported = opts.unsupportedKinds === false ? undefined
    : startUnsupportedKinds({ kubeConfig: kc, log: log.child('unsupported-kinds'), isLeader: () => leading && synced && !stopping, identity, timers, ...opts.unsupportedKinds });
  const syncedAll = Promise.all(all.map((i) => i.waitForSync())).then(() => {
    synced = true;
    log.info('caches synced', { kinds: all.map((i) => i.type.plural) });
    resync();
  });
  syncedAll.catch(() => {}); // stop() before sync rejects it; nothing to do then

  let elector: LeaderElector | undefined;
  if (opts.leaderElect ?? true) {
    const leaseName = opts.leaseName ?? DEFAULT_LEASE_NAME;
    elector = new LeaderElector({
      store: kubeLeaseStore(kc, namespace, leaseName),
      identity,
      leaseDurationMs: opts.leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs,
      retryPeriodMs: opts.retryPeriodMs,
      timers,
      log: log.child('leader'),
      onStartedLeading: () => {
        leading = true;
        resync();
      },
      onStoppedLeading: () => {
        leading = false;
        distribution?.loop.deactivate();
        workloadIdentity?.deactivate();
      },
    });
    elector.start();
  } else {
    leading = true;
  }

  const resyncEvery = opts.resyncPeriodMs ?? 600_000;
  let resyncTimer: unknown;
  const scheduleResync = (): void => {
    if (resyncEvery <= 0 || stopping) return;
    resyncTimer = timers.setTimeout(() => {
      resync();
      scheduleResync();
    }, resyncEvery);
    (resyncTimer as { unref?: () => void }).unref?.();
  };
  scheduleResync();
  log.info('operator started', { identity, leaderElection: Boolean(elector), namespace, rootNamespace });

  return {
    identity,
    isLeader: () => leading && !stopping,
    waitForSync: () => syncedAll,
    idle: () => queue.whenIdle(),
    resync,
    stats: () => ({
      ...counters,
      ...(distribution ? { distribution: distribution.loop.stats() } : {}),
      ...(workloadIdentity ? { identity: workloadIdentity.stats() } : {}),
    }),
    workloadIdentity,
    distributed: () => distribution?.loop.idle() ?? Promise.resolve(),
    async stop() {
      if (stopping) return;
      stopping = true;
      timers.clearTimeout(resyncTimer);
      // Finish in-flight writes before giving up the lease, so a successor never races our last write.
      await distribution?.loop.stop();
      await workloadIdentity?.stop();
      if (jwksTimer !== undefined) timers.clearTimeout(jwksTimer);
      await jwks.stop();
      await unsupported?.stop();
      await queue.shutdown();
      leading = false;
      await elector?.stop();
      await Promise.all(all.map((i) => i.stop()));
      await webhook?.stop();
      log.info('operator stopped', { identity });
    },
  };
}

