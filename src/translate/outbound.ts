// The outbound part of a workload's config — outbound listeners and `virtualOutbound`, routes, outbound clusters
// with the fallback clusters, endpoints — built once per snapshot and outbound profile (outbound-profile.ts) and
// shared by every workload with that profile: the same objects, so they are also encoded once. Workloads of one
// namespace usually share one. Pure: a WeakMap per snapshot object holds the parts, and a part is exactly what
// each of its workloads would have built alone.
//
// A Snapshot view that records what translation reads (the distribution's dependency tracking) offers a
// ReadRecorder: the part is then built through a view of its own, and what it read is added to the record of
// every workload that uses it, as if each had built it.
import { compare } from '../model/kube.ts';
import type { ObjectKey, Snapshot } from '../model/types.ts';
import { outboundClusterPlans } from './cluster-plan.ts';
import { buildOutboundClusters } from './clusters.ts';
import { buildEndpoints } from './endpoints.ts';
import type { TranslateContext } from './index.ts';
import { planOutbound } from './listener-plan.ts';
import { buildOutboundListeners } from './listeners.ts';
import type { ClientView } from './locality.ts';
import { outboundProfile } from './outbound-profile.ts';
import { buildRoutes } from './routes.ts';
import type { EnvoyObject } from './types.ts';
import { sidecarVirtualServices } from './virtual-services.ts';

export interface OutboundPart {
  /** Each list sorted by name (`clusterName` for endpoints). */
  listeners: readonly EnvoyObject[];
  routes: readonly EnvoyObject[];
  clusters: readonly EnvoyObject[];
  endpoints: readonly EnvoyObject[];
  /** The config objects that shaped the part. */
  inputs: ReadonlySet<ObjectKey>;
}

/** What a recording Snapshot view offers under READ_RECORDER. */
export interface ReadRecorder {
  /** The snapshot read through the view: parts are shared per base snapshot. */
  readonly base: Snapshot;
  /** A view of `base` with a record of its own. */
  fork(): Snapshot;
  /** Adds what `view` (a fork of a recorder of the same base) recorded to this view's record. */
  replay(view: Snapshot): void;
}

export const READ_RECORDER: unique symbol = Symbol('weft.ReadRecorder');

export function readRecorder(s: Snapshot): ReadRecorder | undefined {
  return (s as Snapshot & { [READ_RECORDER]?: ReadRecorder })[READ_RECORDER];
}

export const byName = (key: string) => (a: EnvoyObject, b: EnvoyObject): number => {
  const x = String(a[key]);
  const y = String(b[key]);
  return compare(x, y);
};

export function buildOutbound(ctx: TranslateContext, client: ClientView): OutboundPart {
  const inputs = new Set<ObjectKey>();
  const own: TranslateContext = { workload: ctx.workload, snapshot: ctx.snapshot, use: (k) => void inputs.add(k) };
  // Listeners and routes come from one listener plan, clusters and endpoints from one set of cluster plans.
  const vses = sidecarVirtualServices(own);
  const entries = planOutbound(own, vses);
  const plans = outboundClusterPlans(own);
  const clusters = buildOutboundClusters(own, client, plans).sort(byName('name'));
  return {
    listeners: buildOutboundListeners(own, entries).sort(byName('name')),
    routes: buildRoutes(own, vses, entries).sort(byName('name')),
    clusters,
    endpoints: buildEndpoints(own, clusters, client, plans).sort(byName('clusterName')),
    inputs,
  };
}

interface Shared {
  part: OutboundPart;
  /** The recording view the part was built through, if any. */
  view?: Snapshot;
}

const SHARED = new WeakMap<Snapshot, Map<string, Shared>>();

/** The workload's outbound part: the one already built for its profile on this snapshot, or a new one. */
export function sharedOutbound(ctx: TranslateContext, client: ClientView): OutboundPart {
  const recorder = readRecorder(ctx.snapshot);
  const base = recorder?.base ?? ctx.snapshot;
  let parts = SHARED.get(base);
  if (!parts) SHARED.set(base, (parts = new Map()));
  // Computing the key reads the snapshot without recording: the key only decides what may be shared, the part's
  // own reads say what shaped it.
  const key = outboundProfile(ctx.workload, base, client);
  let shared = parts.get(key);
  if (!shared || (recorder && !shared.view)) {
    const view = recorder ? recorder.fork() : base;
    shared = { part: buildOutbound({ ...ctx, snapshot: view }, client), ...(recorder ? { view } : {}) };
    parts.set(key, shared);
  }
  if (recorder && shared.view) recorder.replay(shared.view);
  return shared.part;
}
