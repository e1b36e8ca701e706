// The e2e suite's local cluster: the whole mesh on hack/local-cluster/mesh.ts, started once per run and stopped by
// the global teardown; and what the tests do with any tier's cluster (a MeshTarget): apply YAML, wait for pods,
// run the sample client inside a pod (its requests go through that pod's sidecar) and read the answers.
import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalMesh, type LocalMesh } from '../../hack/local-cluster/mesh.ts';
import { waitFor } from '../../hack/local-cluster/processes.ts';
import type { MeshTarget } from './e2e-target.ts';
import { skipOrRequireNetns } from './proxy-netns.ts';

let shared: Promise<LocalMesh> | undefined;

/** Why the local cluster cannot run here, or undefined when it can. */
export function localClusterUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the local node needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'the local node needs root (network namespaces, iptables, bind mounts)';
  return undefined;
}

/** The shared local mesh, or a skip (with WEFT_REQUIRE_NETNS=1 a missing facility throws instead). */
export function sharedMesh(): Promise<LocalMesh> | { skip: string } {
  const why = localClusterUnavailable();
  if (why) return skipOrRequireNetns(why);
  shared ??= startLocalMesh({ dir: mkdtempSync(join(tmpdir(), 'weft-e2e-')), log: (l) => process.stderr.write(`      ${l}\n`) });
  return shared;
}

/** JSON of `kubectl get … -o json` (throws with kubectl's message on failure). */
export async function getJson<T>(t: MeshTarget, args: string[]): Promise<T> {
  const r = await t.kubectl(['get', ...args, '-o', 'json']);
  if (r.status !== 0) throw new Error(`kubectl get ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export async function stopSharedMesh(): Promise<void> {
  if (!shared) return;
  const mesh = await shared.catch(() => undefined);
  shared = undefined;
  await mesh?.stop();
}

export async function apply(t: MeshTarget, yaml: string): Promise<void> {
  const r = await t.kubectl(['apply', '-f', '-'], yaml);
  if (r.status !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
}

export interface PodRef {
  name: string;
  ip: string;
}

/** Waits until `count` pods with these labels are Running and Ready (all containers), and returns them. */
export async function readyPods(t: MeshTarget, ns: string, selector: string, count: number, timeoutMs = 90_000): Promise<PodRef[]> {
  let pods: PodRef[] = [];
  let last = '';
  await waitFor(`${count} ready pods ${selector} in ${ns}`, async () => {
    const r = await t.kubectl(['get', 'pods', '-n', ns, '-l', selector, '-o', 'json']);
    const items = (JSON.parse(r.stdout || '{"items":[]}') as { items: Array<{ metadata: { name: string; deletionTimestamp?: string }; status: { podIP?: string; conditions?: Array<{ type: string; status: string }> } }> }).items;
    const ready = items.filter((p) => !p.metadata.deletionTimestamp && p.status.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
    last = items.map((p) => `${p.metadata.name}:${p.status.conditions?.find((c) => c.type === 'Ready')?.status ?? '-'}`).join(' ');
    pods = ready.map((p) => ({ name: p.metadata.name, ip: p.status.podIP! }));
    return pods.length === count && items.filter((p) => !p.metadata.deletionTimestamp).length === count;
  }, timeoutMs).catch((e: Error) => {
    throw new Error(`${e.message} (pods: ${last})`, { cause: e });
  });
  return pods;
}

export interface FetchResult {
  results: Array<{ status?: number; body?: unknown; error?: string }>;
  counts: Record<string, number>;
}

/** The sample client's `fetch` run inside `pod` (container `client`): its requests leave through the sidecar. */
export async function fetchFrom(t: MeshTarget, ns: string, pod: string, url: string, o: { n?: number; concurrency?: number; headers?: Record<string, string> } = {}): Promise<FetchResult> {
  const argv = ['node', 'examples/apps/client.ts', 'fetch', url, '--n', String(o.n ?? 1), '--concurrency', String(o.concurrency ?? 1)];
  for (const [k, v] of Object.entries(o.headers ?? {})) argv.push('--header', `${k}:${v}`);
  const r = await t.exec(ns, pod, 'client', argv, 120_000);
  if (r.code !== 0) throw new Error(`client fetch in ${ns}/${pod} exited ${r.code}: ${r.stderr.slice(0, 1000)}`);
  return JSON.parse(r.stdout) as FetchResult;
}

/** Field `f` of each JSON answer (e.g. version, pod), counted. */
export function tally(r: FetchResult, f: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of r.results) {
    const v = x.status === 200 ? String((x.body as Record<string, unknown>)?.[f]) : `status ${x.status ?? x.error}`;
    out[v] = (out[v] ?? 0) + 1;
  }
  return out;
}

/** Retries `check` (a batch of requests) until it holds: config changes take a moment to reach every sidecar. */
export async function eventuallyBatch(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  await waitFor(what, check, timeoutMs);
}
