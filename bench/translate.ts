// The `translate` bench: the operator distributing proxy config for a synthetic mesh on a real API server.
// A control plane of its own (etcd + kube-apiserver, no controller manager, so nothing else writes), then the
// mesh of bench/mesh.ts: 20 namespaces of 50 Services and 25 workloads, 10 000 endpoints, a VirtualService and a
// DestinationRule per namespace, and a hub workload that sees every service. 500 injected workloads in all.
// Measured: full_ms (operator start → all 500 ConfigMaps written, seen by an independent watch),
// incremental_p99_ms (one VirtualService change → every ConfigMap it reaches has a new hash), max_config_bytes
// (largest gzipped bundle: the hub's), operator_rss_mb (peak RSS growth while the operator runs) and
// baseline_write_ms (applying 500 ConfigMaps of the same sizes with precomputed content: the I/O floor).
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { HttpMethod, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { ControlPlane } from '../hack/local-cluster/control-plane.ts';
import { installCrds } from '../hack/local-cluster/manifests.ts';
import { Limiter } from '../src/controllers/distribution/limiter.ts';
import { KubeDistributionWriter, CONFIG_MAP_SELECTOR, CONFIG_MAPS } from '../src/controllers/distribution/writer.ts';
import { Informer } from '../src/controllers/informer.ts';
import { KubeClient } from '../src/controllers/kube-client.ts';
import { createLogger } from '../src/controllers/log.ts';
import { startOperator, type Operator } from '../src/controllers/operator.ts';
import { collectionPath } from '../src/controllers/resources.ts';
import type { KubeObject } from '../src/model/types.ts';
import { CONFIG_HASH_ANNOTATION, PROXY_CONFIG_KEY, proxyConfigMapName } from '../src/translate/envoy/bundle-format.ts';
import { benchMesh, type BenchWorkload, HUB, NAMESPACES, SERVICES_PER_NS, ENDPOINTS_PER_SERVICE, nsName } from './mesh.ts';

const INCREMENTAL_CHANGES = 30;
const CONCURRENCY = 32;

const GOALS = { full_ms: 2000, incremental_p99_ms: 300, max_config_bytes: 262144, operator_rss_mb: 300 };

async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  const limit = new Limiter(n);
  await Promise.all(items.map((t) => limit.run(() => fn(t))));
}

const pathOf = (o: KubeObject, plural: string, group = ''): string =>
  `${group ? `/apis/${group}` : '/api/v1'}/namespaces/${o.metadata!.namespace!}/${plural}`;

/** Everything the mesh is made of, created directly (no controllers run): owners first, so pods name their uids. */
async function createMesh(client: KubeClient, log: (l: string) => void): Promise<BenchWorkload[]> {
  const mesh = benchMesh();
  const post = <T = KubernetesObject>(path: string, body: unknown) => client.request<T>(HttpMethod.POST, path, { body });
  await pool(mesh.namespaces, CONCURRENCY, (ns) => post('/api/v1/namespaces', ns));
  // Pod admission wants the ServiceAccount; no controller makes `default` here.
  await pool(mesh.namespaces, CONCURRENCY, (ns) => post(`/api/v1/namespaces/${ns.metadata!.name!}/serviceaccounts`, { metadata: { name: 'default' } }));

  log(`creating ${mesh.services.length} services and their EndpointSlices`);
  await pool(mesh.services.map((svc, i) => [svc, mesh.endpointSlices[i]!] as const), CONCURRENCY, async ([svc, slice]) => {
    await post(pathOf(svc, 'services'), svc);
    await post(pathOf(slice, 'endpointslices', 'discovery.k8s.io/v1'), slice);
  });

  log(`creating ${mesh.workloads.length} Deployments, ReplicaSets and Running Pods`);
  await pool(mesh.workloadObjects, CONCURRENCY, async (w) => {
    const dep = await post<KubernetesObject>(pathOf(w.deployment, 'deployments', 'apps/v1'), w.deployment);
    const rsBody = w.replicaSet(dep.metadata!.uid!);
    const rs = await post<KubernetesObject>(pathOf(rsBody, 'replicasets', 'apps/v1'), rsBody);
    const podBody = w.pod(rs.metadata!.uid!);
    await post(pathOf(podBody, 'pods'), podBody);
    await client.request(HttpMethod.PATCH, `${pathOf(podBody, 'pods')}/${podBody.metadata!.name!}/status`, {
      contentType: 'application/merge-patch+json',
      body: { status: w.podStatus },
    });
  });

  log('creating a DestinationRule and a VirtualService per namespace');
  await pool(mesh.destinationRules.map((dr, i) => [dr, mesh.virtualServices[i]!] as const), CONCURRENCY, async ([dr, vs]) => {
    await post(pathOf(dr, 'destinationrules', 'networking.istio.io/v1'), dr);
    await post(pathOf(vs, 'virtualservices', 'networking.istio.io/v1'), vs);
  });
  return mesh.workloads;
}

/** The operator's ConfigMaps as an independent observer sees them: hash per `namespace/name`, as it arrives. */
class Observer {
  readonly hashes = new Map<string, string>();
  private readonly informer: Informer<KubernetesObject>;
  private waiters: Array<() => void> = [];

  constructor(kc: KubeConfig, client: KubeClient) {
    this.informer = new Informer<KubernetesObject>({
      kubeConfig: kc,
      type: CONFIG_MAPS,
      labelSelector: CONFIG_MAP_SELECTOR,
      list: client.metadataList(collectionPath(CONFIG_MAPS), { labelSelector: CONFIG_MAP_SELECTOR }),
      watch: client.metadataWatch(),
    });
    this.informer.onChange((key) => {
      const hash = this.informer.getByKey(key)?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION];
      if (hash) this.hashes.set(key, hash);
      else this.hashes.delete(key);
      const w = this.waiters;
      this.waiters = [];
      for (const r of w) r();
    });
  }

  async start(): Promise<void> {
    this.informer.start();
    await this.informer.waitForSync();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  /** Resolves with performance.now() when `ok` first holds. */
  async until(what: string, ok: () => boolean, timeoutMs: number): Promise<number> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      if (ok()) return performance.now();
      const left = end - performance.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const round = (x: number): number => Math.round(x * 10) / 10;
const cmKey = (w: BenchWorkload): string => `${w.namespace}/${proxyConfigMapName(w.name)}`;

export async function runTranslateBench(log: (line: string) => void): Promise<Record<string, unknown>> {
  log('starting a control plane (etcd, kube-apiserver)');
  const cp = await ControlPlane.start({ log });
  let op: Operator | undefined;
  let observer: Observer | undefined;
  try {
    const kc = cp.kubeConfig();
    await installCrds(kc);
    const client = new KubeClient(kc);
    const setupStart = performance.now();
    const workloads = await createMesh(client, log);
    const setupMs = performance.now() - setupStart;
    observer = new Observer(kc, client);
    await observer.start();

    // Full: operator start → every workload's ConfigMap written.
    log(`starting the operator; waiting for ${workloads.length} ConfigMaps`);
    const baseRss = process.memoryUsage.rss();
    let peakRss = baseRss;
    // memoryUsage.rss() only reads the RSS: the sampler must cost the operator it shares the process with little.
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 20);
    const t0 = performance.now();
    op = await startOperator({ kubeConfig: kc, leaderElect: false, resyncPeriodMs: 0, workloadIdentity: false, // this section measures translation and distribution only
      log: createLogger('operator', { level: process.env.WEFT_LOG_LEVEL ? undefined : 'warn' }) });
    const allKeys = workloads.map(cmKey);
    const tFull = await observer.until(`${workloads.length} ConfigMaps`, () => allKeys.every((k) => observer!.hashes.has(k)), 120_000);
    const fullMs = tFull - t0;
    await op.distributed();
    const fullStats = op.stats().distribution;
    log(`full: ${Math.round(fullMs)} ms`);

    // Incremental: one VirtualService at a time; its namespace's workloads and the hub must get a new hash.
    const latencies: number[] = [];
    let unexpected = 0;
    for (let i = 0; i < INCREMENTAL_CHANGES; i++) {
      const ns = nsName(i % NAMESPACES);
      const reached = workloads.filter((w) => w.namespace === ns || w.namespace === HUB).map(cmKey);
      const before = new Map(observer.hashes);
      const start = performance.now();
      await client.request(HttpMethod.PATCH, `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices/svc-0`, {
        contentType: 'application/merge-patch+json',
        body: { spec: { http: [{ timeout: `${i + 2}s`, route: [{ destination: { host: 'svc-0', subset: i % 2 === 0 ? 'v2' : 'v1' } }] }] } },
      });
      const done = await observer.until(`new hashes in ${ns}`, () => reached.every((k) => observer!.hashes.get(k) !== before.get(k)), 30_000);
      latencies.push(done - start);
      await op.distributed();
      const reachedSet = new Set(reached);
      for (const [k, h] of observer.hashes) if (!reachedSet.has(k) && before.get(k) !== h) unexpected++;
    }
    clearInterval(sampler);
    const rssMb = (peakRss - baseRss) / 2 ** 20;
    const incStats = op.stats().distribution;
    log(`incremental: p50 ${Math.round(percentile(latencies, 50))} ms, p99 ${Math.round(percentile(latencies, 99))} ms`);

    // Sizes, from the ConfigMaps themselves.
    const list = await client.request<{ items: Array<{ metadata: { name: string }; binaryData?: Record<string, string> }> }>(
      HttpMethod.GET, collectionPath(CONFIG_MAPS), { query: { labelSelector: CONFIG_MAP_SELECTOR } },
    );
    const sizes = list.items.map((c) => Buffer.from(c.binaryData?.[PROXY_CONFIG_KEY] ?? '', 'base64').length);
    const maxBytes = Math.max(...sizes);
    const meanBytes = sizes.reduce((a, b) => a + b, 0) / sizes.length;

    await op.stop();
    op = undefined;
    await observer.stop();
    observer = undefined;

    // Baseline: the same number of ConfigMaps of the same sizes, content ready, through the same writer.
    log('baseline: applying the same ConfigMaps with precomputed content');
    const writer = new KubeDistributionWriter(kc);
    const contents = sizes.map((size, i) => ({
      workload: { apiVersion: 'apps/v1', kind: 'Deployment' as const, name: `baseline-${i}`, namespace: workloads[i % workloads.length]!.namespace, uid: '' },
      hash: randomBytes(32).toString('hex'),
      gzipped: randomBytes(size),
    }));
    const b0 = performance.now();
    await pool(contents, 16, (c) => writer.apply(c));
    const baselineMs = performance.now() - b0;

    const metrics = {
      full_ms: Math.round(fullMs),
      incremental_p99_ms: Math.round(percentile(latencies, 99)),
      max_config_bytes: maxBytes,
      operator_rss_mb: round(rssMb),
    };
    const goals = Object.fromEntries(
      (Object.keys(GOALS) as Array<keyof typeof GOALS>).map((k) => [k, { value: metrics[k], goal: GOALS[k], pass: metrics[k] <= GOALS[k] }]),
    );
    return {
      ...metrics,
      baseline_write_ms: Math.round(baselineMs),
      full_vs_baseline: round(fullMs / baselineMs),
      incremental_p50_ms: Math.round(percentile(latencies, 50)),
      incremental_samples: latencies.length,
      incremental_unexpected_rewrites: unexpected,
      mean_config_bytes: Math.round(meanBytes),
      mesh: {
        namespaces: NAMESPACES + 1,
        services: NAMESPACES * SERVICES_PER_NS,
        endpoints: NAMESPACES * SERVICES_PER_NS * ENDPOINTS_PER_SERVICE,
        injected_workloads: workloads.length,
        virtual_services: NAMESPACES,
        destination_rules: NAMESPACES,
        setup_ms: Math.round(setupMs),
      },
      operator: { full: fullStats, after_incremental: incStats },
      goals,
    };
  } finally {
    await op?.stop().catch(() => undefined);
    await observer?.stop().catch(() => undefined);
    await cp.stop();
  }
}
