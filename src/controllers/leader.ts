// Leader election through a coordination.k8s.io/v1 Lease, in the manner of client-go's leaderelection.
// In: a lease store (the Lease object via CoordinationV1Api), an identity, timings. Out: `onStartedLeading` /
// `onStoppedLeading` callbacks and `isLeader()`.
// Rules: a lease held by someone else is respected until it has not changed for its leaseDurationSeconds, measured
// on our own clock from when we first saw that version (so clock skew between replicas does not matter); every
// write carries the resourceVersion we read (optimistic concurrency); a leader that cannot renew within
// renewDeadline steps down before others may take over (renewDeadline < leaseDuration); stop() releases the lease
// so a successor takes over after one retryPeriod instead of a whole leaseDuration.
import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { silentLogger, type Logger } from './log.ts';
import { jitter, realTimers, sleep, type Timers } from './timers.ts';

export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** Epoch milliseconds. */
  acquireTime?: number;
  renewTime?: number;
  leaseTransitions?: number;
}

/** Thrown by a store when the write lost a race (409: AlreadyExists or a stale resourceVersion). */
export class LeaseConflict extends Error {}

export interface LeaseStore {
  /** The current record and its resourceVersion, or undefined when the Lease does not exist. */
  get(): Promise<{ record: LeaseRecord; resourceVersion: string } | undefined>;
  /** Creates the Lease; returns the new resourceVersion. */
  create(record: LeaseRecord): Promise<string>;
  /** Replaces the Lease if it is still at `resourceVersion`; returns the new one. */
  update(record: LeaseRecord, resourceVersion: string): Promise<string>;
}

export interface LeaderElectorOptions {
  store: LeaseStore;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  onNewLeader?: (identity: string) => void;
  timers?: Timers;
  rng?: () => number;
  log?: Logger;
}

const JITTER = 1.2;

export class LeaderElector {
  readonly identity: string;
  private readonly store: LeaseStore;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly timers: Timers;
  private readonly rng: () => number;
  private readonly log: Logger;
  private readonly opts: LeaderElectorOptions;
  private leading = false;
  private stopCtl = new AbortController();
  private loop: Promise<void> | undefined;
  private observed: { rv: string; at: number; record: LeaseRecord } | undefined;
  private reportedLeader: string | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.identity = opts.identity;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > JITTER * this.retryPeriodMs)) {
      throw new Error('leader election needs leaseDuration > renewDeadline > 1.2 * retryPeriod');
    }
    this.timers = opts.timers ?? realTimers;
    this.rng = opts.rng ?? Math.random;
    this.log = opts.log ?? silentLogger;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder we last saw in the Lease. */
  currentLeader(): string | undefined {
    return this.observed?.record.holderIdentity || undefined;
  }

  start(): void {
    if (this.loop) return;
    this.stopCtl = new AbortController();
    this.loop = this.run().catch((err: unknown) => this.log.error('leader election loop failed', { error: err }));
  }

  /** Stops campaigning; if leading, steps down and releases the Lease. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.stopCtl.abort();
    await this.loop;
    this.loop = undefined;
    if (this.leading) {
      this.setLeading(false);
      await this.release();
    }
  }

  private get stopped(): boolean {
    return this.stopCtl.signal.aborted;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // Campaign until we hold the lease.
      while (!this.stopped && !(await this.attempt(this.renewDeadlineMs))) {
        await sleep(this.timers, jitter(this.retryPeriodMs, JITTER, this.rng), this.stopCtl.signal);
      }
      if (this.stopped) return;
      this.setLeading(true);
      let lastRenew = this.timers.now();
      // Renew every retryPeriod; give up once renewDeadline has passed without a successful renewal.
      while (!this.stopped) {
        await sleep(this.timers, this.retryPeriodMs, this.stopCtl.signal);
        if (this.stopped) return;
        const left = this.renewDeadlineMs - (this.timers.now() - lastRenew);
        if (left > 0 && (await this.attempt(left))) {
          lastRenew = this.timers.now();
          continue;
        }
        if (this.stopped) return;
        if (this.timers.now() - lastRenew >= this.renewDeadlineMs) {
          this.log.warn('failed to renew the lease within the renew deadline, stepping down', { identity: this.identity });
          this.setLeading(false);
          break;
        }
      }
    }
  }

  /** tryAcquireOrRenew, bounded by `timeoutMs` so a hung request cannot hold up stepping down. */
  private async attempt(timeoutMs: number): Promise<boolean> {
    let handle: unknown;
    const timeout = new Promise<boolean>((resolve) => {
      handle = this.timers.setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.tryAcquireOrRenew(), timeout]);
    } catch (err) {
      if (!(err instanceof LeaseConflict)) this.log.warn('lease request failed', { error: err });
      return false;
    } finally {
      this.timers.clearTimeout(handle);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.timers.now();
    const desired: LeaseRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    const current = await this.store.get();
    if (!current) {
      const rv = await this.store.create(desired);
      this.observe(desired, rv, now);
      return true;
    }
    const { record, resourceVersion } = current;
    this.observe(record, resourceVersion, now);
    const holder = record.holderIdentity;
    if (holder && holder !== this.identity && !this.expired(now)) return false;
    if (holder === this.identity) {
      desired.acquireTime = record.acquireTime ?? now;
      desired.leaseTransitions = record.leaseTransitions ?? 0;
    } else {
      desired.leaseTransitions = (record.leaseTransitions ?? 0) + 1;
    }
    if (this.stopped && !this.leading) return false;
    const rv = await this.store.update(desired, resourceVersion);
    this.observe(desired, rv, this.timers.now());
    return true;
  }

  private expired(now: number): boolean {
    const o = this.observed;
    if (!o) return true;
    const duration = (o.record.leaseDurationSeconds ?? Math.ceil(this.leaseDurationMs / 1000)) * 1000;
    return o.at + duration <= now;
  }

  private observe(record: LeaseRecord, rv: string, now: number): void {
    if (this.observed?.rv !== rv) this.observed = { rv, at: now, record };
    const holder = record.holderIdentity;
    if (holder && holder !== this.reportedLeader) {
      this.reportedLeader = holder;
      this.log.info('leader observed', { leader: holder, self: holder === this.identity });
      this.call(this.opts.onNewLeader, holder);
    }
  }

  private async release(): Promise<void> {
    try {
      const current = await this.store.get();
      if (!current || current.record.holderIdentity !== this.identity) return;
      const now = this.timers.now();
      await this.store.update(
        { leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: current.record.leaseTransitions ?? 0 },
        current.resourceVersion,
      );
      this.log.info('released the lease', { identity: this.identity });
    } catch (err) {
      this.log.warn('could not release the lease; it will expire', { error: err });
    }
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.log.info(leading ? 'started leading' : 'stopped leading', { identity: this.identity });
    this.call(leading ? this.opts.onStartedLeading : this.opts.onStoppedLeading);
  }

  private call<A extends unknown[]>(fn: ((...a: A) => void) | undefined, ...args: A): void {
    try {
      fn?.(...args);
    } catch (err) {
      this.log.error('leader election callback failed', { error: err });
    }
  }
}

// ---- the Lease object ---------------------------------------------------------------------------------

const toMs = (t: unknown): number | undefined => {
  if (t === undefined || t === null) return undefined;
  const ms = new Date(t as string | Date).getTime();
  return Number.isNaN(ms) ? undefined : ms;
};

const isCode = (err: unknown, code: number): boolean => err instanceof ApiException && err.code === code;

/** The Lease `namespace/name` through CoordinationV1Api. */
export function kubeLeaseStore(kc: KubeConfig, namespace: string, name: string): LeaseStore {
  const api = kc.makeApiClient(CoordinationV1Api);
  let last: V1Lease | undefined;
  const body = (record: LeaseRecord, resourceVersion?: string): V1Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace,
      labels: last?.metadata?.labels ?? { 'app.kubernetes.io/part-of': 'weft' },
      ...(last?.metadata?.annotations ? { annotations: last.metadata.annotations } : {}),
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    spec: {
      ...(record.holderIdentity ? { holderIdentity: record.holderIdentity } : {}),
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: record.acquireTime === undefined ? undefined : new V1MicroTime(record.acquireTime),
      renewTime: record.renewTime === undefined ? undefined : new V1MicroTime(record.renewTime),
      leaseTransitions: record.leaseTransitions,
    },
  });
  const conflict = (err: unknown): never => {
    if (isCode(err, 409)) throw new LeaseConflict(`lease ${namespace}/${name} changed concurrently`);
    throw err;
  };
  return {
    async get() {
      try {
        last = await api.readNamespacedLease({ namespace, name });
      } catch (err) {
        if (isCode(err, 404)) return undefined;
        throw err;
      }
      const s = last.spec ?? {};
      const record: LeaseRecord = {
        holderIdentity: s.holderIdentity,
        leaseDurationSeconds: s.leaseDurationSeconds,
        acquireTime: toMs(s.acquireTime),
        renewTime: toMs(s.renewTime),
        leaseTransitions: s.leaseTransitions,
      };
      return { record, resourceVersion: last.metadata?.resourceVersion ?? '' };
    },
    async create(record) {
      last = undefined;
      const out = await api.createNamespacedLease({ namespace, body: body(record) }).catch(conflict);
      last = out;
      return out.metadata?.resourceVersion ?? '';
    },
    async update(record, resourceVersion) {
      const out = await api.replaceNamespacedLease({ namespace, name, body: body(record, resourceVersion) }).catch(conflict);
      last = out;
      return out.metadata?.resourceVersion ?? '';
    },
  };
}
