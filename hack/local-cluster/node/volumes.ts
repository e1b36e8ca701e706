// The local node's volume manager for one pod, like the kubelet's: projects configMap, secret, projected
// (configMap, secret, downwardAPI, serviceAccountToken) and downwardAPI volumes into <dir>/volumes/<name> with the
// atomic-writer layout, creates emptyDir volumes once and remembers hostPath ones. Objects are read with fresh
// GETs on every sync; a volume is rewritten only when its payload changed. Anything the node cannot provide
// (PVCs, CSI…) is an error naming the volume, and so is a missing non-optional object or key: the pod then stays
// in ContainerCreating and the caller syncs again later.
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api, type KubeConfig, type V1DownwardAPIVolumeFile, type V1KeyToPath, type V1Pod, type V1Volume, type V1VolumeProjection,
} from '@kubernetes/client-node';
import { AtomicWriter, type FileContent } from './atomic-writer.ts';

export interface PodVolumesOptions {
  kc: KubeConfig;
  /** The pod's directory; volumes go in <dir>/volumes/<name>. */
  dir: string;
  log?: (line: string) => void;
}

type Files = Record<string, FileContent>;
interface Token { token: string; refreshAt: number }

const DEFAULT_MODE = 0o644;
const PROJECTED = ['configMap', 'secret', 'projected', 'downwardAPI'] as const;

export class PodVolumes {
  private readonly core: CoreV1Api;
  private readonly root: string;
  private readonly log: (line: string) => void;
  private readonly paths = new Map<string, string>();
  private readonly tokens = new Map<string, Token>();
  private queue: Promise<void> = Promise.resolve();

  constructor(opts: PodVolumesOptions) {
    this.core = opts.kc.makeApiClient(CoreV1Api);
    this.root = join(opts.dir, 'volumes');
    this.log = opts.log ?? (() => {});
  }

  /** Brings every volume of `pod` up to date; throws one error listing each volume that could not be set up. */
  sync(pod: V1Pod): Promise<void> {
    const run = this.queue.then(() => this.syncNow(pod)); // one sync at a time: two writers would race on ..data
    this.queue = run.catch(() => {});
    return run;
  }

  /** What to bind-mount for a volume: its directory, or the host path; undefined before a successful sync. */
  hostPath(volumeName: string): string | undefined {
    return this.paths.get(volumeName);
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
    this.paths.clear();
    this.tokens.clear();
  }

  private async syncNow(pod: V1Pod): Promise<void> {
    // Volumes are independent directories: fetched and written concurrently, so a refresh costs one round trip.
    const results = await Promise.allSettled((pod.spec?.volumes ?? []).map((v) => this.syncVolume(pod, v)));
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    if (errors.length) throw new Error(errors.join('; '));
  }

  private async syncVolume(pod: V1Pod, v: V1Volume): Promise<void> {
    const type = volumeType(v);
    const dir = join(this.root, v.name);
    if (type === 'hostPath') {
      this.paths.set(v.name, v.hostPath!.path);
      return;
    }
    if (type === 'emptyDir') {
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true });
        chmodSync(dir, 0o777); // like the kubelet: any container UID may write
      }
      this.paths.set(v.name, dir);
      return;
    }
    if (!(PROJECTED as readonly string[]).includes(type)) throw new Error(`volume ${v.name}: type ${type} is not supported by the local node`);
    const { files, mode } = await this.payload(pod, v);
    const writer = new AtomicWriter(dir);
    if (writer.write(files, mode)) this.log(`volume ${v.name}: wrote ${Object.keys(files).length} file(s) (${writer.current()})`);
    this.paths.set(v.name, dir);
  }

  private async payload(pod: V1Pod, v: V1Volume): Promise<{ files: Files; mode: number }> {
    const ns = pod.metadata?.namespace ?? 'default';
    const at = `volume ${v.name}`;
    if (v.configMap) {
      const s = v.configMap;
      const data = await this.configMap(ns, s.name!);
      return { files: select(`${at}: ConfigMap ${ns}/${s.name}`, data, s.items, s.optional), mode: s.defaultMode ?? DEFAULT_MODE };
    }
    if (v.secret) {
      const s = v.secret;
      const data = await this.secret(ns, s.secretName!);
      return { files: select(`${at}: Secret ${ns}/${s.secretName}`, data, s.items, s.optional), mode: s.defaultMode ?? DEFAULT_MODE };
    }
    if (v.downwardAPI) return { files: downward(at, pod, v.downwardAPI.items), mode: v.downwardAPI.defaultMode ?? DEFAULT_MODE };
    const files: Files = {};
    for (const src of v.projected!.sources ?? []) Object.assign(files, await this.projection(at, pod, ns, src));
    return { files, mode: v.projected!.defaultMode ?? DEFAULT_MODE };
  }

  private async projection(at: string, pod: V1Pod, ns: string, src: V1VolumeProjection): Promise<Files> {
    if (src.configMap) return select(`${at}: ConfigMap ${ns}/${src.configMap.name}`, await this.configMap(ns, src.configMap.name!), src.configMap.items, src.configMap.optional);
    if (src.secret) return select(`${at}: Secret ${ns}/${src.secret.name}`, await this.secret(ns, src.secret.name!), src.secret.items, src.secret.optional);
    if (src.downwardAPI) return downward(at, pod, src.downwardAPI.items);
    if (src.serviceAccountToken) {
      const t = src.serviceAccountToken;
      return { [t.path]: await this.token(at, pod, t.audience, t.expirationSeconds ?? 3600) };
    }
    const kind = Object.keys(src).find((k) => (src as Record<string, unknown>)[k] !== undefined) ?? 'unknown';
    throw new Error(`${at}: projected source ${kind} is not supported by the local node`);
  }

  // A token bound to the pod, reused until 80% of its lifetime has passed (the kubelet's rule), so that syncs in
  // between do not rewrite the volume.
  private async token(at: string, pod: V1Pod, audience: string | undefined, expirationSeconds: number): Promise<string> {
    const name = pod.metadata?.name;
    const uid = pod.metadata?.uid;
    if (!name || !uid) throw new Error(`${at}: a serviceAccountToken needs the pod's name and uid`);
    const sa = pod.spec?.serviceAccountName || 'default';
    const key = `${sa}|${audience ?? ''}|${expirationSeconds}`;
    const cached = this.tokens.get(key);
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    const issued = Date.now();
    const tr = await this.core.createNamespacedServiceAccountToken({
      name: sa,
      namespace: pod.metadata?.namespace ?? 'default',
      body: { spec: { audiences: audience ? [audience] : [], expirationSeconds, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name, uid } } },
    }).catch((e: unknown) => {
      throw new Error(`${at}: token for ServiceAccount ${sa}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
    });
    const token = tr.status?.token;
    if (!token) throw new Error(`${at}: the TokenRequest for ServiceAccount ${sa} returned no token`);
    const expires = tr.status?.expirationTimestamp ? new Date(tr.status.expirationTimestamp).getTime() : issued + expirationSeconds * 1000;
    this.tokens.set(key, { token, refreshAt: issued + 0.8 * (expires - issued) });
    return token;
  }

  private async configMap(ns: string, name: string): Promise<Record<string, Buffer> | undefined> {
    const cm = await notFound(this.core.readNamespacedConfigMap({ namespace: ns, name }));
    if (!cm) return undefined;
    const out: Record<string, Buffer> = {};
    for (const [k, s] of Object.entries(cm.data ?? {})) out[k] = Buffer.from(s, 'utf8');
    for (const [k, b] of Object.entries(cm.binaryData ?? {})) out[k] = Buffer.from(b, 'base64');
    return out;
  }

  private async secret(ns: string, name: string): Promise<Record<string, Buffer> | undefined> {
    const s = await notFound(this.core.readNamespacedSecret({ namespace: ns, name }));
    if (!s) return undefined;
    return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, b]) => [k, Buffer.from(b, 'base64')]));
  }
}

/** The volume's source field: `configMap`, `emptyDir`, `persistentVolumeClaim`… */
function volumeType(v: V1Volume): string {
  return Object.keys(v).find((k) => k !== 'name' && (v as unknown as Record<string, unknown>)[k] != null) ?? 'unknown';
}

async function notFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
}

// The kubelet's rules: a missing object is an empty volume when optional, else an error; without items every
// key is a file; with items each listed key goes to its path with its own mode, and a missing key is skipped when
// optional, else an error.
function select(what: string, data: Record<string, Buffer> | undefined, items: V1KeyToPath[] | undefined, optional: boolean | undefined): Files {
  if (!data) {
    if (optional) return {};
    throw new Error(`${what} not found`);
  }
  if (!items?.length) return { ...data };
  const files: Files = {};
  for (const item of items) {
    const value = data[item.key];
    if (value === undefined) {
      if (optional) continue;
      throw new Error(`${what} has no key ${JSON.stringify(item.key)}`);
    }
    files[item.path] = item.mode === undefined ? value : { data: value, mode: item.mode };
  }
  return files;
}

function downward(at: string, pod: V1Pod, items: V1DownwardAPIVolumeFile[] | undefined): Files {
  const files: Files = {};
  for (const item of items ?? []) {
    if (!item.fieldRef) throw new Error(`${at}: downwardAPI ${item.path}: only fieldRef is supported by the local node`);
    const value = fieldValue(pod, item.fieldRef.fieldPath);
    if (value === undefined) throw new Error(`${at}: downwardAPI ${item.path}: unsupported fieldPath ${item.fieldRef.fieldPath}`);
    files[item.path] = item.mode === undefined ? value : { data: value, mode: item.mode };
  }
  return files;
}

// The API server admits only metadata.* in downwardAPI volumes; the spec/status fields cost nothing and match the
// kubelet's resolver.
function fieldValue(pod: V1Pod, path: string): string | undefined {
  const m = pod.metadata ?? {};
  const sub = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (sub) return (sub[1] === 'labels' ? m.labels : m.annotations)?.[sub[2]!] ?? '';
  const fields: Record<string, () => string | undefined> = {
    'metadata.name': () => m.name,
    'metadata.namespace': () => m.namespace,
    'metadata.uid': () => m.uid,
    'metadata.labels': () => formatMap(m.labels),
    'metadata.annotations': () => formatMap(m.annotations),
    'spec.serviceAccountName': () => pod.spec?.serviceAccountName,
    'spec.nodeName': () => pod.spec?.nodeName,
    'status.podIP': () => pod.status?.podIP,
    'status.podIPs': () => (pod.status?.podIPs ?? []).map((p) => p.ip).join(','),
    'status.hostIP': () => pod.status?.hostIP,
  };
  const f = fields[path];
  return f ? (f() ?? '') : undefined;
}

// The kubelet's fieldpath.FormatMap: sorted `key="value"` lines, values quoted (Go %q; JSON quoting agrees for
// ordinary text).
function formatMap(map: Record<string, string> | undefined): string {
  return Object.keys(map ?? {}).sort().map((k) => `${k}=${JSON.stringify(map![k])}`).join('\n');
}
