// Sidecar injection as a pure function. In: a pod as submitted, its namespace's labels, the injector's options.
// Out: the JSONPatch operations that add weft-init, weft-proxy and their volumes (none when the pod is not to be
// injected or already is), the reason when nothing is done, and warnings for ignored annotations.
// The decision is src/model/injection.ts's, the same rule the snapshot uses, so the operator configures exactly
// the pods this injects. The workload name (naming the proxy ConfigMap) is the model's own podOwner.
import { podIsGateway } from '../controllers/gateway/mode.ts';
import { podServiceAccount } from '../controllers/identity/desired.ts';
import { INJECT_ANNOTATION, podHasProxyContainer, podHasSidecar, PROXY_CONTAINER } from '../model/injection.ts';
import { annotationsOf, list, record } from '../model/kube.ts';
import type { KubeObject, Labels } from '../model/types.ts';
import { podOwner } from '../model/workloads.ts';
import { INIT_CONTAINER, initContainer, proxyContainer, proxyVolumes, VOLUMES } from './inject-containers.ts';
import { podSettings, type InjectOptions } from './inject-options.ts';
import { planProbes } from './inject-probes.ts';
import { userVolumes } from './inject-user-volumes.ts';

export interface PatchOp {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

/** Records what was injected, for people and tools looking at the pod. */
export const STATUS_ANNOTATION = 'sidecar.weft.dev/status';

export type InjectResult =
  | { action: 'inject'; patch: PatchOp[]; workload: string; warnings: string[] }
  | { action: 'skip'; reason: SkipReason; warnings: string[] };

export type SkipReason = 'not-enabled' | 'already-injected' | 'gateway' | 'host-network' | 'no-workload-name';

/** `/` and `~` escaped for a JSON pointer segment. */
const seg = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

export function injectPod(pod: KubeObject, namespaceLabels: Labels | undefined, opts: InjectOptions = {}): InjectResult {
  // A re-invocation, or a pod someone injected by hand: adding a second proxy would break the pod.
  if (podHasProxyContainer(pod)) return { action: 'skip', reason: 'already-injected', warnings: [] };
  // A gateway pod is a weft proxy itself (weft.dev/proxy-mode: gateway): a sidecar in front of it would capture
  // the traffic it serves.
  if (podIsGateway(pod)) return { action: 'skip', reason: 'gateway', warnings: [] };
  if (!podHasSidecar(pod, namespaceLabels)) return { action: 'skip', reason: 'not-enabled', warnings: [] };
  const spec = record(pod.spec);
  // iptables would rewrite the node's own rules.
  if (spec.hostNetwork === true) return { action: 'skip', reason: 'host-network', warnings: [] };

  const owner = podOwner(pod);
  if (owner.name === '') {
    // A bare pod known only by generateName: its ConfigMap would be named after a name that does not exist yet.
    const warning = `weft: pod has no name and no owning workload, so its proxy config cannot be named; not injected (set metadata.name or ${INJECT_ANNOTATION}: "false")`;
    return { action: 'skip', reason: 'no-workload-name', warnings: [warning] };
  }
  const annotations = annotationsOf(pod);
  const { settings, warnings } = podSettings(opts, annotations);
  const containers = list(spec.containers);
  const probes = settings.rewriteProbes ? planProbes(containers) : { rewrites: [], probers: {} };
  const proxy = proxyContainer(settings, probes.probers);
  const init = initContainer(settings);
  const user = userVolumes(annotations, new Set([...list(spec.volumes).map((x) => String(record(x).name)), ...Object.values(VOLUMES)]));
  warnings.push(...user.warnings);
  (proxy.volumeMounts as unknown[]).push(...user.mounts);

  const patch: PatchOp[] = [];
  // Probe replacements come first: they address containers by index, before the proxy may shift them.
  for (const r of probes.rewrites) patch.push({ op: 'replace', path: `/spec/containers/${r.container}/${r.field}`, value: r.probe });
  // weft-init runs before every other init container, so even the app's init containers go through the proxy
  // (the native sidecar, right after it, is up before they start).
  const firstInits = settings.mode === 'native' ? [init, proxy] : [init];
  if (spec.initContainers === undefined) patch.push({ op: 'add', path: '/spec/initContainers', value: firstInits });
  else firstInits.forEach((c, i) => patch.push({ op: 'add', path: `/spec/initContainers/${i}`, value: c }));
  if (settings.mode === 'container') patch.push({ op: 'add', path: '/spec/containers/0', value: proxy });

  const volumes = [...proxyVolumes(owner.name, podServiceAccount(pod as Parameters<typeof podServiceAccount>[0])), ...user.volumes];
  if (spec.volumes === undefined) patch.push({ op: 'add', path: '/spec/volumes', value: volumes });
  else for (const v of volumes) patch.push({ op: 'add', path: '/spec/volumes/-', value: v });

  const status = JSON.stringify({
    initContainers: settings.mode === 'native' ? [INIT_CONTAINER, PROXY_CONTAINER] : [INIT_CONTAINER],
    containers: settings.mode === 'native' ? [] : [PROXY_CONTAINER],
    volumes: volumes.map((v) => v.name),
    workload: `${owner.kind}/${owner.name}`,
  });
  if (pod.metadata?.annotations === undefined) patch.push({ op: 'add', path: '/metadata/annotations', value: {} });
  patch.push({ op: 'add', path: `/metadata/annotations/${seg(STATUS_ANNOTATION)}`, value: status });
  return { action: 'inject', patch, workload: owner.name, warnings };
}
