// One cluster at run time (ClusterRuntime): its hosts with their balancer and outlier state, circuit breakers,
// and per-host undici pools. `configure` applies a changed Cluster/assignment in place: hosts whose address
// stays keep their counters and ejections, and their pools while the transport and connection settings stay.
// Hot path: pick() draws a priority level (only when load spills over several) and makes one balancer call
// over that level's prebuilt host array; dispatcher()/report() find the host's slot by address (a map lookup, a
// second one for hosts outside the assignment).
import type { ClusterRuntime, FileSource, UpstreamHost } from '../runtime.ts';
import { arr, obj, str, structToJs } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import { clusterTypeOf } from '../routing/upstream.ts';
import { createBreaker, thresholdsOf } from './breaker.ts';
import { openSocket } from './connector.ts';
import { hostAddress, parseAddress, upstreamHost } from './endpoints.ts';
import type { EndpointDesc } from './endpoints.ts';
import { choosePriority, priorityLevels } from './host-set.ts';
import type { PriorityLevel } from './host-set.ts';
import { createBalancer, pickAvoiding } from './lb.ts';
import { lbOptions, localityWeighted, panicThreshold } from './lb-config.ts';
import { chooseLocality, localityGroups } from './locality.ts';
import type { LocalityGroup } from './locality.ts';
import { createOutlierDetector, outlierConfig } from './outlier.ts';
import type { OutlierDetector } from './outlier.ts';
import { closePools, poolFor } from './host-pools.ts';
import type { HostSlot } from './host-pools.ts';
import { connectionSettings, createContexts, targetFor } from './pools.ts';
import type { ConnectionSettings, LinkDeps } from './pools.ts';
import { slowStartOf, warmUp } from './slow-start.ts';
import type { SlowStart, Warming } from './slow-start.ts';
import { transportSpec } from './tls.ts';
import type { TransportSpec } from './tls.ts';
import { newHostEntry } from './types.ts';
import type { Balancer, HostEntry } from './types.ts';

/** ORIGINAL_DST hosts kept at most (the oldest is closed beyond this). */
const MAX_DYNAMIC_HOSTS = 1024;

interface Level extends PriorityLevel {
  balancer: Balancer;
  groups?: LocalityGroup[];
}

export interface ClusterDeps {
  now(): number;
  random(): number;
  files(): FileSource;
}

export interface ManagedCluster extends ClusterRuntime {
  /** A changed Cluster object (hosts come separately, through setEndpoints). */
  configure(cluster: Obj): void;
  setEndpoints(descs: readonly EndpointDesc[]): void;
  close(): Promise<void>;
}

function serviceOf(cluster: Obj): ManagedCluster['service'] {
  const istio = obj(structToJs(obj(obj(cluster.metadata).filterMetadata).istio));
  const s = arr(istio.services)[0];
  return s ? { host: str(s.host), name: str(s.name), namespace: str(s.namespace) } : undefined;
}

export function createCluster(name: string, initial: Obj, deps: ClusterDeps): ManagedCluster {
  let cluster = initial;
  let type = clusterTypeOf(cluster);
  let settings: ConnectionSettings;
  let clusterSpec: TransportSpec;
  let balancerKey = '';
  /** Only for observe(): the latency state it learns lives on the host entries, which every level's balancer
   * reads, so one instance serves them all. */
  let balancer: Balancer;
  let byLocality: boolean;
  /** Balancers per priority (and per priority and locality), so each keeps its own round-robin state and table. */
  const balancers = new Map<string, Balancer>();
  let outlierKey = '';
  let outlier: OutlierDetector | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let panic = 50;
  let service: ManagedCluster['service'];
  const breaker = createBreaker(thresholdsOf(cluster));
  const slots = new Map<string, HostSlot>();
  /** ORIGINAL_DST destinations, and hosts picked under an older config that a request still uses. */
  const dynamic = new Map<string, HostSlot>();
  let levels: Level[] = [];
  let slowStart: SlowStart | undefined;
  const warming: Warming[] = [];
  let started = false;
  const link: LinkDeps = { settings: () => settings, files: deps.files, contexts: createContexts() };

  const balancerFor = (key: string): Balancer => {
    let b = balancers.get(key);
    if (!b) {
      b = createBalancer(lbOptions(cluster), deps.now);
      balancers.set(key, b);
    }
    return b;
  };

  const rebuild = () => {
    const all = [...slots.values()].map((s) => s.entry);
    levels = priorityLevels(all, (k) => outlier?.isEjected(k) ?? false, panic).map((l) => {
      const groups = byLocality
        ? localityGroups(l.hosts, all.filter((h) => h.priority === l.priority), (loc) => balancerFor(`${l.priority}|${loc}`))
        : undefined;
      return { ...l, balancer: balancerFor(String(l.priority)), ...(groups ? { groups } : {}) };
    });
  };

  const slotFor = (host: UpstreamHost): HostSlot => {
    const known = slots.get(host.address) ?? dynamic.get(host.address);
    if (known) return known;
    const slot: HostSlot = { host: host.host, port: host.port, spec: clusterSpec, entry: newHostEntry(host) };
    dynamic.set(host.address, slot);
    if (dynamic.size > MAX_DYNAMIC_HOSTS) {
      const [oldest, old] = dynamic.entries().next().value!;
      dynamic.delete(oldest);
      void closePools(old);
    }
    return slot;
  };

  const configure = (next: Obj) => {
    cluster = next;
    type = clusterTypeOf(cluster);
    const t = thresholdsOf(cluster);
    const prevKey = settings?.key;
    settings = connectionSettings(cluster, t);
    breaker.configure(t, settings.protocol === 'http2' ? settings.maxConcurrentStreams : 1);
    clusterSpec = transportSpec(cluster.transportSocket);
    panic = panicThreshold(cluster);
    service = serviceOf(cluster);
    const lb = lbOptions(cluster);
    if (JSON.stringify(lb) !== balancerKey) {
      balancerKey = JSON.stringify(lb);
      balancer = createBalancer(lb, deps.now);
      balancers.clear();
    }
    byLocality = localityWeighted(cluster, lb);
    slowStart = lb.kind === 'ROUND_ROBIN' || lb.kind === 'LEAST_REQUEST' ? slowStartOf(cluster) : undefined;
    if (!slowStart) {
      for (const w of warming) w.entry.weight = w.fullWeight;
      warming.length = 0;
    }
    const oc = outlierConfig(cluster.outlierDetection);
    if (JSON.stringify(oc) !== outlierKey) {
      outlierKey = JSON.stringify(oc);
      outlier = oc ? createOutlierDetector(oc) : undefined;
      outlier?.setHosts(slots.keys());
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      // Picks sweep too; the timer returns ejected hosts (and lowers multipliers) when no request comes.
      if (oc) {
        sweeper = setInterval(() => { if (outlier?.sweep(deps.now())) rebuild(); }, oc.intervalMs);
        sweeper.unref();
      }
    }
    if (prevKey !== undefined && prevKey !== settings.key) {
      for (const s of slots.values()) void closePools(s);
      for (const s of dynamic.values()) void closePools(s);
    }
    for (const s of dynamic.values()) {
      if (s.spec.key !== clusterSpec.key) { void closePools(s); s.spec = clusterSpec; }
    }
    rebuild();
  };

  const setEndpoints = (descs: readonly EndpointDesc[]) => {
    const seen = new Set<string>();
    for (const d of descs) {
      const address = hostAddress(d.address, d.port);
      if (seen.has(address)) continue;
      seen.add(address);
      const spec = transportSpec(d.transportSocket);
      let slot = slots.get(address);
      const host = upstreamHost(d);
      if (!slot || JSON.stringify(slot.entry.host) !== JSON.stringify(host)) {
        const entry = newHostEntry(host, d.weight, d.priority, d.health);
        if (d.localityWeight !== undefined) entry.localityWeight = d.localityWeight;
        // A host new to a running cluster warms up.
        if (!slot && started && slowStart) warming.push({ entry, since: deps.now(), fullWeight: d.weight });
        if (slot) {
          // Same address, new metadata: the counters carry over, and the pools (their connector holds the slot).
          Object.assign(entry, { active: slot.entry.active, ewmaMs: slot.entry.ewmaMs, ewmaAt: slot.entry.ewmaAt });
          const warm = warming.find((w) => w.entry === slot!.entry);
          if (warm) warm.entry = entry;
          slot.entry = entry;
        } else {
          slot = { host: d.address, port: d.port, spec, entry };
          slots.set(address, slot);
        }
      }
      const warm = warming.find((w) => w.entry === slot!.entry);
      if (warm) warm.fullWeight = d.weight; else slot.entry.weight = d.weight;
      slot.entry.priority = d.priority;
      slot.entry.health = d.health;
      if (d.localityWeight !== undefined) slot.entry.localityWeight = d.localityWeight;
      else delete slot.entry.localityWeight;
      if (slot.spec.key !== spec.key) {
        void closePools(slot);
        slot.spec = spec;
      }
    }
    for (const [address, slot] of slots) {
      if (seen.has(address)) continue;
      slots.delete(address);
      void closePools(slot);
      const i = warming.findIndex((w) => w.entry === slot.entry);
      if (i >= 0) warming.splice(i, 1);
    }
    started = true;
    outlier?.setHosts(slots.keys());
    rebuild();
  };

  configure(initial);

  return {
    name,
    get service() { return service; },
    get connectTimeoutMs() { return settings.connectTimeoutMs; },
    pick(ctx) {
      if (type === 'ORIGINAL_DST') {
        const od = ctx.originalDestination;
        if (!od) return undefined;
        let slot = dynamic.get(od);
        if (!slot) {
          const dst = parseAddress(od);
          if (!dst) return undefined;
          slot = slotFor({ address: hostAddress(dst.host, dst.port), host: dst.host, port: dst.port, metadata: {} });
        }
        slot.entry.active++;
        return slot.entry.host;
      }
      if (outlier?.sweep(deps.now())) rebuild();
      if (levels.length === 0) return undefined;
      if (warming.length > 0 && warmUp(warming, slowStart!, deps.now())) for (const b of balancers.values()) b.weightsChanged?.();
      const level = choosePriority(levels, deps.random);
      let entry: HostEntry;
      if (level.groups) {
        const g = chooseLocality(level.groups, deps.random);
        entry = pickAvoiding(g.balancer, g.hosts, ctx, deps.random);
      } else {
        entry = pickAvoiding(level.balancer, level.hosts, ctx, deps.random);
      }
      entry.active++;
      return entry.host;
    },
    admitRequest: () => breaker.admitRequest(),
    admitRetry: () => breaker.admitRetry(),
    dispatcher(host, downstream, authority) {
      return poolFor(slotFor(host), settings.protocol === 'downstream' ? downstream ?? 'http1' : settings.protocol, link, authority);
    },
    async connect(host, signal) {
      return openSocket(targetFor(slotFor(host), link, 'tcp', signal));
    },
    report(host, outcome) {
      const member = slots.get(host.address);
      const slot = member ?? dynamic.get(host.address);
      if (!slot) return;
      const e = slot.entry;
      if (e.active > 0) e.active--;
      const now = deps.now();
      balancer.observe?.(e, outcome.latencyMs, now);
      // Outlier detection tracks the cluster's own hosts only, not ORIGINAL_DST or leftover ones.
      if (outlier && member && outlier.record(e.key, outcome, now, deps.random)) rebuild();
    },
    peerPrincipal: (host) => (slots.get(host.address) ?? dynamic.get(host.address))?.principal,
    configure,
    setEndpoints,
    async close() {
      if (sweeper) clearInterval(sweeper);
      const all = [...slots.values(), ...dynamic.values()];
      slots.clear();
      dynamic.clear();
      levels = [];
      await Promise.all(all.map(closePools));
    },
  };
}
