// The ClusterManager: LoadedConfig in, one ManagedCluster per Cluster out. An update compares each cluster's
// canonical form (the Cluster object and its assignment): unchanged ones are left alone, changed ones are
// reconfigured in place (hosts, balancer and outlier state, and pools survive where they can), removed ones are
// closed once their requests finish. STRICT_DNS clusters get their hosts from DNS (dns.ts).
import type { ClusterManager, FileSource, LoadedConfig, LocalWorkload } from '../runtime.ts';
import { durationMs, isObj, str } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import { assignmentOf, clusterTypeOf } from '../routing/upstream.ts';
import { createCluster } from './cluster.ts';
import type { ManagedCluster } from './cluster.ts';
import { lookupFamily, watchDns } from './dns.ts';
import type { DnsWatch } from './dns.ts';
import { endpointDescs } from './endpoints.ts';

export interface ClusterManagerDeps {
  now?: () => number;
  random?: () => number;
  local?: LocalWorkload;
}

export interface WeftClusterManager extends ClusterManager {
  /** Resolves when the DNS lookups started by the last update have answered (tests, readiness). */
  settled(): Promise<void>;
}

interface Entry {
  key: string;
  cluster: ManagedCluster;
  dns?: DnsWatch;
}

const EMPTY_FILES: FileSource = { read: () => undefined };

export function createClusterManager(deps: ClusterManagerDeps = {}): WeftClusterManager {
  const now = deps.now ?? (() => performance.now());
  const random = deps.random ?? Math.random;
  let files: FileSource = EMPTY_FILES;
  const clusters = new Map<string, Entry>();
  let pending: Promise<unknown>[] = [];

  const applyHosts = (entry: Entry, c: Obj, cla: Obj | undefined) => {
    entry.dns?.close();
    delete entry.dns;
    const descs = endpointDescs(c, cla);
    if (clusterTypeOf(c) === 'STRICT_DNS') {
      const refresh = durationMs(c.dnsRefreshRate) ?? 5000;
      entry.dns = watchDns(descs, lookupFamily(c.dnsLookupFamily), refresh, (expanded) => entry.cluster.setEndpoints(expanded));
      pending.push(entry.dns.ready);
    } else {
      entry.cluster.setEndpoints(descs);
    }
  };

  return {
    get: (name) => clusters.get(name)?.cluster,
    update(loaded, fileSource) {
      files = fileSource;
      pending = [];
      const assignments = new Map<string, Obj>();
      for (const cla of loaded.config.endpoints) if (isObj(cla)) assignments.set(str(cla.clusterName), cla);
      const seen = new Set<string>();
      for (const c of loaded.config.clusters) {
        const name = str(c.name);
        if (!name || seen.has(name)) continue;
        seen.add(name);
        const cla = assignmentOf(c, name, assignments);
        const key = JSON.stringify([c, cla]);
        const existing = clusters.get(name);
        if (existing?.key === key) continue;
        if (existing) {
          existing.key = key;
          existing.cluster.configure(c);
          applyHosts(existing, c, cla);
          continue;
        }
        const entry: Entry = { key, cluster: createCluster(name, c, { now, random, files: () => files }) };
        clusters.set(name, entry);
        applyHosts(entry, c, cla);
      }
      for (const [name, entry] of clusters) {
        if (seen.has(name)) continue;
        clusters.delete(name);
        entry.dns?.close();
        void entry.cluster.close();
      }
    },
    async settled() {
      await Promise.all(pending);
    },
    async close() {
      const all = [...clusters.values()];
      clusters.clear();
      for (const e of all) e.dns?.close();
      await Promise.all(all.map((e) => e.cluster.close()));
    },
  };
}
