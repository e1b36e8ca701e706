// Pods → Workloads: each pod is attributed to its owning controller (ReplicaSet → Deployment, Job → CronJob,
// StatefulSet, DaemonSet, ReplicationController) or stands alone as a bare Pod. In: pods, the owner objects
// the informers hold, namespace labels. Out: sorted Workloads and a per-pod view endpoints are built from.
//
// Owners missing from the caches (a pod seen before its ReplicaSet) fall back to names derived from the pod the
// way Istio names workloads: a ReplicaSet `<deployment>-<pod-template-hash>` → Deployment `<deployment>`, a Job
// `<cronjob>-<8 to 11 digits>` → CronJob `<cronjob>`. The workload name stays stable that way (it names the
// ConfigMap); its `uid` is then '' when no object gives it, and writers must leave the ownerReference out.
import { podHasSidecar, podIsGateway, PROXY_CONTAINER } from './injection.ts';
import { by, controllerOf, key, labelsOf, list, nameOf, namespaceOf, num, record, str, uidOf } from './kube.ts';
import type { KubeObject, Labels, PodInfo, Workload, WorkloadKind, WorkloadRef } from './types.ts';

/** Labels that differ between pods of one workload or between its revisions; left out of Workload.labels. */
export const VOLATILE_LABELS: readonly string[] = [
  'pod-template-hash',
  'controller-revision-hash',
  'pod-template-generation',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'controller-uid',
  'batch.kubernetes.io/controller-uid',
  'job-name',
  'batch.kubernetes.io/job-name',
  'batch.kubernetes.io/job-completion-index',
];

export function stableLabels(labels: Labels): Labels {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (!VOLATILE_LABELS.includes(k)) out[k] = v;
  return out;
}

/** What owns a pod, as far as the owner objects given tell. */
export interface PodOwner extends WorkloadRef {
  apiVersion: string;
  /** '' when the owner object is unknown and the pod's references do not carry its uid. */
  uid: string;
}

/** Owner objects by `namespace/name`; any may be missing or empty. */
export interface OwnerIndex {
  replicaSets?: ReadonlyMap<string, KubeObject>;
  deployments?: ReadonlyMap<string, KubeObject>;
  jobs?: ReadonlyMap<string, KubeObject>;
  cronJobs?: ReadonlyMap<string, KubeObject>;
}

const CRONJOB_JOB_NAME = /^(.+)-\d{8,11}$/;
const DIRECT_KINDS: ReadonlySet<string> = new Set(['StatefulSet', 'DaemonSet', 'ReplicationController', 'Deployment', 'CronJob']);

/** The workload a pod belongs to. Shared with the webhook, which names a pod's ConfigMap before the pod exists. */
export function podOwner(pod: KubeObject, owners: OwnerIndex = {}): PodOwner {
  const namespace = namespaceOf(pod);
  const bare: PodOwner = { kind: 'Pod', name: nameOf(pod), namespace, apiVersion: 'v1', uid: uidOf(pod) };
  const ref = controllerOf(pod);
  if (!ref || ref.name === '') return bare;
  if (ref.kind === 'ReplicaSet') {
    const rs = owners.replicaSets?.get(key(namespace, ref.name));
    if (rs) {
      const up = controllerOf(rs);
      if (up?.kind === 'Deployment') return { kind: 'Deployment', name: up.name, namespace, apiVersion: up.apiVersion, uid: up.uid };
      return { kind: 'ReplicaSet', name: ref.name, namespace, apiVersion: ref.apiVersion, uid: ref.uid };
    }
    const hash = labelsOf(pod)['pod-template-hash'];
    if (hash && ref.name.endsWith(`-${hash}`)) {
      const name = ref.name.slice(0, -hash.length - 1);
      return { kind: 'Deployment', name, namespace, apiVersion: 'apps/v1', uid: uidOf(owners.deployments?.get(key(namespace, name))) };
    }
    return { kind: 'ReplicaSet', name: ref.name, namespace, apiVersion: ref.apiVersion, uid: ref.uid };
  }
  if (ref.kind === 'Job') {
    const job = owners.jobs?.get(key(namespace, ref.name));
    if (job) {
      const up = controllerOf(job);
      if (up?.kind === 'CronJob') return { kind: 'CronJob', name: up.name, namespace, apiVersion: up.apiVersion, uid: up.uid };
      return { kind: 'Job', name: ref.name, namespace, apiVersion: ref.apiVersion, uid: ref.uid };
    }
    const m = CRONJOB_JOB_NAME.exec(ref.name);
    if (m?.[1]) {
      const name = m[1];
      return { kind: 'CronJob', name, namespace, apiVersion: 'batch/v1', uid: uidOf(owners.cronJobs?.get(key(namespace, name))) };
    }
    return { kind: 'Job', name: ref.name, namespace, apiVersion: ref.apiVersion, uid: ref.uid };
  }
  if (DIRECT_KINDS.has(ref.kind)) return { kind: ref.kind as WorkloadKind, name: ref.name, namespace, apiVersion: ref.apiVersion, uid: ref.uid };
  // Pods of controllers weft does not know (custom resources) are configured one by one.
  return bare;
}

/** Succeeded/Failed pods and pods being deleted take no traffic and need no config. */
export function podIsLive(pod: KubeObject): boolean {
  const phase = str(record(pod.status).phase);
  return phase !== 'Succeeded' && phase !== 'Failed' && pod.metadata?.deletionTimestamp == null;
}

export function podInfo(pod: KubeObject): PodInfo {
  const spec = record(pod.spec);
  const status = record(pod.status);
  const ready = list(status.conditions).some((c) => record(c).type === 'Ready' && record(c).status === 'True');
  const containerPorts: Array<{ name?: string; port: number; protocol: string }> = [];
  for (const c of list(spec.containers)) {
    if (record(c).name === PROXY_CONTAINER) continue;
    for (const p of list(record(c).ports)) {
      const port = num(record(p).containerPort);
      if (port === undefined) continue;
      const name = str(record(p).name);
      containerPorts.push({ ...(name !== undefined ? { name } : {}), port, protocol: str(record(p).protocol) ?? 'TCP' });
    }
  }
  const ip = str(status.podIP);
  return {
    name: nameOf(pod),
    namespace: namespaceOf(pod),
    uid: uidOf(pod),
    ...(ip ? { ip } : {}),
    labels: labelsOf(pod),
    serviceAccount: str(spec.serviceAccountName) || str(spec.serviceAccount) || 'default',
    ready,
    phase: str(status.phase) ?? 'Unknown',
    containerPorts,
  };
}

/** A pod with what endpoints need to know about it. */
export interface PodView {
  object: KubeObject;
  info: PodInfo;
  /** Undefined for terminated or deleted pods. */
  workload?: WorkloadRef;
  sidecar: boolean;
  /** A gateway pod: its own proxy, no sidecar, so clients reach it without mesh mTLS. */
  gateway: boolean;
}

export interface WorkloadIndex {
  workloads: Workload[];
  /** Every pod by `namespace/name`, live or not. */
  pods: Map<string, PodView>;
}

export function buildWorkloads(
  pods: readonly KubeObject[],
  owners: OwnerIndex,
  namespaceLabels: (ns: string) => Labels | undefined,
): WorkloadIndex {
  const views = new Map<string, PodView>();
  const groups = new Map<string, { owner: PodOwner; members: PodView[] }>();
  const sorted = [...pods].filter((p) => nameOf(p) !== '' && namespaceOf(p) !== '').sort(by(namespaceOf, nameOf, uidOf));
  for (const pod of sorted) {
    const k = key(namespaceOf(pod), nameOf(pod));
    if (views.has(k)) continue;
    const gateway = podIsGateway(pod);
    const sidecar = !gateway && podHasSidecar(pod, namespaceLabels(namespaceOf(pod)));
    if (!podIsLive(pod)) {
      views.set(k, { object: pod, info: podInfo(pod), sidecar, gateway });
      continue;
    }
    const owner = podOwner(pod, owners);
    const view: PodView = { object: pod, info: podInfo(pod), workload: { kind: owner.kind, name: owner.name, namespace: owner.namespace }, sidecar, gateway };
    views.set(k, view);
    const gk = `${owner.kind}/${owner.namespace}/${owner.name}`;
    const g = groups.get(gk);
    if (g) {
      g.members.push(view);
      if (g.owner.uid === '' && owner.uid !== '') g.owner = owner;
    } else groups.set(gk, { owner, members: [view] });
  }
  const workloads: Workload[] = [];
  for (const { owner, members } of groups.values()) {
    const first = members[0]!;
    // The pod template decides; pods of one workload share it (during a rollout the newest pods say).
    const gateway = members.some((m) => m.gateway);
    workloads.push({
      kind: owner.kind,
      name: owner.name,
      namespace: owner.namespace,
      apiVersion: owner.apiVersion,
      uid: owner.uid,
      labels: stableLabels(first.info.labels),
      serviceAccount: first.info.serviceAccount,
      pods: members.map((m) => m.info),
      injected: gateway || members.some((m) => m.sidecar),
      mode: gateway ? 'gateway' : 'sidecar',
    });
  }
  workloads.sort(by((w) => w.namespace, (w) => w.name, (w) => w.kind));
  return { workloads, pods: views };
}
