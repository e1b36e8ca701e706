// The `scale` part of the convergence bench: the operator against a cluster of WEFT_BENCH_SERVICES Services and
// WEFT_BENCH_PODS pods (default 1000 and 5000) on kwok's fake Nodes (bench/convergence-cluster.ts), plus a tenth
// as many VirtualServices and DestinationRules (bench/convergence-objects.ts). Creation is timed apart; the
// operator starts (a child process, for clean memory and CPU figures) only once every pod is Ready, so its figures
// are its own. Measured: operator start → every workload's ConfigMap written, → every mesh object Programmed at its
// generation; its RSS (peak and after settling) and CPU; and one VirtualService changed → its Programmed condition
// at the new generation and the ConfigMaps whose config hash changed. Stops by itself within BUDGET_MS; a timed out
// wait throws with what was reached.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HttpMethod } from '@kubernetes/client-node';
import { startProcess, stopProcess, type Proc } from '../hack/local-cluster/processes.ts';
import { METADATA_LIST, type KubeClient } from '../src/controllers/kube-client.ts';
import { CONFIG_MAP_SELECTOR } from '../src/controllers/distribution/writer.ts';
import { CONFIG_HASH_ANNOTATION, proxyConfigMapName } from '../src/translate/envoy/bundle-format.ts';
import { startScaleCluster } from './convergence-cluster.ts';
import { createObjects, scaleShape, virtualService, type ScaleShape } from './convergence-objects.ts';

const root = resolve(import.meta.dirname, '..');
const BUDGET_MS = 12 * 60_000;
const NODES = 10;
const SETTLE_MS = 10_000;
const CLK_TCK = 100;

/** A check's answer: done, and a word on how far it got (for the timeout error). */
type Progress = { done: boolean; reached: string };

export class ScaleError extends Error {
  readonly reached: Record<string, unknown>;
  constructor(message: string, reached: Record<string, unknown>) {
    super(message);
    this.reached = reached;
  }
}

/** /proc figures of one process: RSS now and its high-water mark (MB), CPU seconds (user + system). */
function procStats(pid: number): { rssMb: number; hwmMb: number; cpuS: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024, cpuS: (Number(fields[11]) + Number(fields[12])) / CLK_TCK };
  } catch {
    return undefined;
  }
}

type Meta = { metadata: { namespace: string; name: string; generation?: number; annotations?: Record<string, string> } };
type MeshObject = Meta & { status?: { conditions?: Array<{ type: string; status: string; reason?: string; observedGeneration?: number }> } };

async function configHashes(client: KubeClient): Promise<Map<string, string>> {
  const list = await client.list<Meta>('/api/v1/configmaps', { labelSelector: CONFIG_MAP_SELECTOR, accept: METADATA_LIST });
  return new Map(list.items.map((c) => [`${c.metadata.namespace}/${c.metadata.name}`, c.metadata.annotations?.[CONFIG_HASH_ANNOTATION] ?? '']));
}

function programmed(o: MeshObject): boolean {
  const c = o.status?.conditions?.find((x) => x.type === 'Programmed');
  return c?.status === 'True' && (c.observedGeneration ?? -1) === (o.metadata.generation ?? 0);
}

async function programmedCount(client: KubeClient): Promise<{ programmed: number; total: number }> {
  const lists = await Promise.all(['virtualservices', 'destinationrules'].map((r) => client.list<MeshObject>(`/apis/networking.istio.io/v1/${r}`)));
  const items = lists.flatMap((l) => l.items);
  return { programmed: items.filter(programmed).length, total: items.length };
}

async function readyReplicas(client: KubeClient): Promise<number> {
  const list = await client.list<{ metadata?: object; status?: { readyReplicas?: number } }>('/apis/apps/v1/deployments');
  return list.items.reduce((n, d) => n + (d.status?.readyReplicas ?? 0), 0);
}

export async function runScale(log: (line: string) => void): Promise<Record<string, unknown>> {
  const services = Number(process.env.WEFT_BENCH_SERVICES ?? 1000);
  const pods = Number(process.env.WEFT_BENCH_PODS ?? 5000);
  const shape: ScaleShape = scaleShape(services, pods);
  const deadline = Date.now() + BUDGET_MS;
  const out: Record<string, unknown> = { services, pods: services * shape.replicas, workloads: services, nodes: NODES };
  const r1 = (x: number) => Math.round(x * 10) / 10;

  /** Polls `check` until done; past the part's deadline throws with what was reached. */
  const until = async (what: string, check: () => Promise<Progress>, everyMs: number, died?: Proc): Promise<void> => {
    for (;;) {
      const p = await check().catch((e: unknown): Progress => ({ done: false, reached: `error: ${(e as Error).message}` }));
      if (p.done) return;
      if (died && died.child.exitCode !== null) throw new ScaleError(`${what}: ${died.name} exited with ${died.child.exitCode}`, { ...out, reached: p.reached });
      if (Date.now() > deadline) throw new ScaleError(`${what}: timed out (part budget ${BUDGET_MS / 60_000} min)`, { ...out, reached: p.reached });
      await new Promise((r) => setTimeout(r, everyMs));
    }
  };

  log(`convergence/scale: ${services} services, ${services * shape.replicas} pods on ${NODES} kwok nodes`);
  const cluster = await startScaleCluster(NODES, log);
  const { client } = cluster;
  let operator: Proc | undefined;
  let sampler: ReturnType<typeof setInterval> | undefined;
  try {
    const t0 = performance.now();
    await createObjects(client, shape, cluster.nodes);
    out.create_calls_s = r1((performance.now() - t0) / 1000);
    log(`created the objects in ${out.create_calls_s} s; waiting for ${out.pods as number} pods to be Ready`);
    await until('pods Ready', async () => {
      const n = await readyReplicas(client);
      return { done: n >= (out.pods as number), reached: `${n}/${out.pods as number} pods Ready` };
    }, 2000);
    out.create_s = r1((performance.now() - t0) / 1000);
    log(`every pod Ready after ${out.create_s} s; starting the operator`);

    const expected = shape.workloads.map((w) => `${w.namespace}/${proxyConfigMapName(w.name)}`);
    const tOp = performance.now();
    operator = startProcess('weft operator', process.execPath, [
      join(root, 'src/cli/weft.ts'), 'operator', '--kubeconfig', cluster.cp.kubeconfigPath, '--webhook=false', '--leader-elect=false',
    ], join(cluster.cp.dir, 'operator.log'));
    const pid = operator.child.pid!;
    let last = procStats(pid);
    sampler = setInterval(() => (last = procStats(pid) ?? last), 500);

    let firstCm: number | undefined;
    let hashes = new Map<string, string>();
    await until('every workload ConfigMap written', async () => {
      hashes = await configHashes(client);
      const have = expected.filter((k) => hashes.has(k)).length;
      if (have > 0) firstCm ??= performance.now();
      return { done: have === expected.length, reached: `${have}/${expected.length} ConfigMaps` };
    }, 500, operator);
    const tSync = performance.now();
    out.initial_sync_s = r1((tSync - tOp) / 1000);
    out.first_configmap_s = r1(((firstCm ?? tSync) - tOp) / 1000);
    out.reconcile_workloads_per_s = r1(services / ((tSync - tOp) / 1000));
    // The write rate once writing started (startup, informer sync and the first translation excluded).
    out.configmaps_per_s = r1(expected.length / Math.max(0.5, (tSync - (firstCm ?? tSync)) / 1000));
    out.operator_cpu_s_initial_sync = r1(procStats(pid)?.cpuS ?? last?.cpuS ?? 0);
    const w0 = shape.workloads[0]!;
    const cm0 = await client.request<{ data?: Record<string, string>; binaryData?: Record<string, string> }>(
      HttpMethod.GET, `/api/v1/namespaces/${w0.namespace}/configmaps/${proxyConfigMapName(w0.name)}`);
    // What one workload's config weighs as stored (every sidecar sees every service: it grows with the mesh).
    out.configmap_bytes = Object.values({ ...cm0.data, ...cm0.binaryData }).reduce((n, v) => n + v.length, 0);
    log(`every ConfigMap written ${out.initial_sync_s} s after the operator started; waiting for Programmed`);

    await until('every mesh object Programmed', async () => {
      const p = await programmedCount(client);
      return { done: p.total > 0 && p.programmed === p.total, reached: `${p.programmed}/${p.total} Programmed` };
    }, 1000, operator);
    out.programmed_s = r1((performance.now() - tOp) / 1000);
    log(`every mesh object Programmed ${out.programmed_s} s after the operator started; settling ${SETTLE_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const settled = procStats(pid) ?? last;
    out.operator_rss_mb_steady = r1(settled?.rssMb ?? 0);

    // Incremental: one VirtualService's route timeout changes.
    const vs = shape.virtualServices[0]!;
    const before = await configHashes(client);
    const path = `/apis/networking.istio.io/v1/namespaces/${vs.namespace}/virtualservices/${vs.name}`;
    const tInc = performance.now();
    await client.request(HttpMethod.PATCH, path, {
      body: { spec: virtualService(vs, '7s').spec }, contentType: 'application/merge-patch+json',
    });
    let lastChange = tInc;
    let changed = 0;
    await until('changed VirtualService Programmed', async () => {
      const [obj, now] = await Promise.all([client.request<MeshObject>(HttpMethod.GET, path), configHashes(client)]);
      const n = [...now].filter(([k, h]) => before.get(k) !== h).length;
      if (n > changed) [changed, lastChange] = [n, performance.now()];
      return { done: programmed(obj), reached: `${n} ConfigMaps changed, Programmed not yet at the new generation` };
    }, 200, operator);
    out.incremental_programmed_ms = Math.round(performance.now() - tInc);
    out.incremental_ms = Math.round(lastChange - tInc);
    out.incremental_configmaps_changed = changed;

    const end = procStats(pid) ?? last;
    out.operator_rss_mb_peak = r1(end?.hwmMb ?? 0);
    out.operator_cpu_s = r1(end?.cpuS ?? 0);
    out.operator_log_errors = operatorLogSummary(join(cluster.cp.dir, 'operator.log'));
    return out;
  } catch (e) {
    if (operator) out.operator_log_errors = operatorLogSummary(join(cluster.cp.dir, 'operator.log'));
    if (e instanceof ScaleError) throw new ScaleError(e.message, { ...out, ...e.reached });
    throw new ScaleError((e as Error).message, out);
  } finally {
    if (sampler) clearInterval(sampler);
    if (operator) await stopProcess(operator, 10_000);
    // WEFT_BENCH_KEEP=1 leaves the logs (control plane, kwok, operator) behind.
    if (process.env.WEFT_BENCH_KEEP === '1') log(`convergence/scale: logs kept in ${cluster.cp.dir}`);
    await cluster.stop({ keepDir: process.env.WEFT_BENCH_KEEP === '1' });
  }
}

/** Error and warning lines of the operator's JSON log: their count and the first few distinct messages. */
function operatorLogSummary(file: string): { errors: number; warnings: number; messages: string[] } {
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  let errors = 0;
  let warnings = 0;
  const messages = new Set<string>();
  for (const line of lines) {
    let rec: { level?: string; msg?: string; message?: string };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    if (rec.level === 'error') errors++;
    else if (rec.level === 'warn') warnings++;
    else continue;
    if (messages.size < 8) messages.add(`${rec.level}: ${rec.msg ?? rec.message ?? ''}`);
  }
  return { errors, warnings, messages: [...messages] };
}
