// Istio kinds weft does not carry out (EnvoyFilter, Telemetry, WasmPlugin, Sidecar…), found on the cluster.
// In: a KubeConfig; which of those kinds are served is discovered now and then (their CRDs may come and go).
// Out: one Warning Event `NotSupported` per such object ("weft ignores it"), written by the leader only, so that
// nothing looks applied that is not. Objects are watched with the shared Informer; nothing else is written.
import { HttpMethod, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { UNSUPPORTED_ISTIO_KINDS, type IstioKind } from '../validate/istio-kinds.ts';
import { Informer } from './informer.ts';
import { KubeClient, KubeHttpError } from './kube-client.ts';
import type { Logger } from './log.ts';
import type { ResourceType } from './resources.ts';
import { realTimers, type Timers } from './timers.ts';

export const NOT_SUPPORTED_REASON = 'NotSupported';

export interface UnsupportedKindsOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  /** Only the leader writes Events. */
  isLeader: () => boolean;
  /** How often served kinds are rediscovered and unreported objects retried (default 60 s). */
  discoveryPeriodMs?: number;
  /** Events name this as their reporting instance. */
  identity?: string;
  timers?: Timers;
  kinds?: readonly IstioKind[];
}

export interface UnsupportedKinds {
  /** The kinds currently found served, as `group/Kind`. */
  served(): string[];
  /** Reports every object seen and not yet reported (called on becoming leader, and periodically). */
  sweep(): Promise<void>;
  stop(): Promise<void>;
}

type Obj = KubernetesObject & { metadata?: KubernetesObject['metadata'] & { uid?: string } };

export function startUnsupportedKinds(opts: UnsupportedKindsOptions): UnsupportedKinds {
  const client = new KubeClient(opts.kubeConfig);
  const timers = opts.timers ?? realTimers;
  const period = opts.discoveryPeriodMs ?? 60_000;
  const kinds = opts.kinds ?? UNSUPPORTED_ISTIO_KINDS;
  const watched = new Map<string, Informer<Obj>>();
  const reported = new Set<string>(); // uids
  const inFlight = new Set<string>();
  let stopped = false;
  let timer: unknown;

  async function servedVersion(k: IstioKind): Promise<string | undefined> {
    for (const v of k.versions) {
      try {
        const list = await client.request<{ resources?: Array<{ name: string }> }>(HttpMethod.GET, `/apis/${k.group}/${v}`);
        if (list.resources?.some((r) => r.name === k.plural)) return v;
      } catch (e) {
        if (!(e instanceof KubeHttpError) || e.statusCode !== 404) throw e;
      }
    }
    return undefined;
  }

  async function report(k: IstioKind, obj: Obj): Promise<void> {
    const uid = obj.metadata?.uid;
    const name = obj.metadata?.name;
    if (!uid || !name || reported.has(uid) || inFlight.has(uid) || !opts.isLeader() || stopped) return;
    inFlight.add(uid);
    const namespace = obj.metadata?.namespace || 'default';
    const now = new Date(timers.now()).toISOString();
    const message = `weft does not support ${k.kind} (${k.group}): it ignores this object, which has no effect on the mesh`;
    try {
      await client.request(HttpMethod.POST, `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: `${name}.`, namespace },
          involvedObject: { apiVersion: obj.apiVersion, kind: k.kind, name, namespace: obj.metadata?.namespace, uid, resourceVersion: obj.metadata?.resourceVersion },
          reason: NOT_SUPPORTED_REASON,
          message,
          type: 'Warning',
          count: 1,
          firstTimestamp: now,
          lastTimestamp: now,
          source: { component: 'weft-operator' },
          reportingComponent: 'weft.dev/operator',
          reportingInstance: opts.identity ?? 'weft-operator',
        },
      });
      reported.add(uid);
    } catch (e) {
      opts.log.warn('could not record an event for an unsupported kind', { kind: k.kind, namespace, name, error: String(e) });
    } finally {
      inFlight.delete(uid);
    }
  }

  function watch(k: IstioKind, version: string): void {
    const type: ResourceType = { kind: k.kind, group: k.group, version, plural: k.plural, namespaced: true };
    const inf = new Informer<Obj>({ kubeConfig: opts.kubeConfig, type, log: opts.log, timers });
    inf.onChange((key) => {
      const obj = inf.getByKey(key);
      if (obj) void report(k, obj);
    });
    inf.start();
    watched.set(`${k.group}/${k.kind}`, inf);
    opts.log.info('watching an Istio kind weft does not support', { kind: k.kind, group: k.group, version });
  }

  async function discover(): Promise<void> {
    for (const k of kinds) {
      const id = `${k.group}/${k.kind}`;
      let version: string | undefined;
      try {
        version = await servedVersion(k);
      } catch (e) {
        opts.log.warn('discovery failed', { group: k.group, error: String(e) });
        continue;
      }
      if (stopped) return;
      const current = watched.get(id);
      if (version && !current) watch(k, version);
      else if (!version && current) {
        watched.delete(id);
        await current.stop();
      }
    }
  }

  async function sweep(): Promise<void> {
    for (const k of kinds) {
      const inf = watched.get(`${k.group}/${k.kind}`);
      if (inf) await Promise.all(inf.list().map((o) => report(k, o)));
    }
  }

  const tick = (): void => {
    if (stopped) return;
    void discover()
      .then(sweep)
      .catch((e: unknown) => opts.log.warn('unsupported kinds: sweep failed', { error: String(e) }))
      .finally(() => {
        if (stopped) return;
        timer = timers.setTimeout(tick, period);
        (timer as { unref?: () => void }).unref?.();
      });
  };
  tick();

  return {
    served: () => [...watched.keys()],
    sweep,
    async stop() {
      stopped = true;
      timers.clearTimeout(timer);
      await Promise.all([...watched.values()].map((i) => i.stop()));
      watched.clear();
    },
  };
}
