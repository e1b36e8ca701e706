// A local pod's status as the kubelet reports it: container states, the pod conditions (Ready counts native
// sidecars, as since Kubernetes 1.29), phase, addresses. Written through the status subresource soon after a
// change (bursts coalesce), only when it differs from the last write; a condition keeps its transition time while
// its status does not flip.
import type { ChildProcess } from 'node:child_process';
import {
  CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Container, type V1ContainerStatus, type V1Pod, type V1PodCondition,
} from '@kubernetes/client-node';
import type { Prober } from './probes.ts';

/** One container of a pod, as the runtime tracks it. */
export interface Ctr {
  spec: V1Container;
  kind: 'init' | 'sidecar' | 'app';
  child?: ChildProcess;
  running: boolean;
  started: boolean;
  ready: boolean;
  restarts: number;
  startedAt?: Date;
  waiting?: { reason: string; message?: string };
  terminated?: { exitCode: number; reason: string; finishedAt: Date; startedAt?: Date };
  probers: Prober[];
  exited?: Promise<number>;
}

/** What the status is computed from. */
export interface PodState {
  pod: V1Pod;
  ctrs: readonly Ctr[];
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  ip?: string;
  hostIp: string;
  startTime: Date;
  initialized: boolean;
  stopping: boolean;
}

function containerStatus(c: Ctr): V1ContainerStatus {
  const state = c.running
    ? { running: { startedAt: c.startedAt } }
    : c.waiting
      ? { waiting: c.waiting }
      : c.terminated
        ? { terminated: c.terminated }
        : { waiting: { reason: 'ContainerCreating' } };
  return {
    name: c.spec.name,
    image: c.spec.image ?? '',
    imageID: c.spec.image ?? '',
    containerID: c.child?.pid ? `weft-local://${c.child.pid}` : undefined,
    ready: c.ready,
    started: c.started,
    restartCount: c.restarts,
    state,
    lastState: c.terminated && c.running ? { terminated: c.terminated } : {},
  };
}

function conditions(s: PodState): V1PodCondition[] {
  const now = new Date();
  const containersReady = s.initialized && s.ctrs.filter((c) => c.kind !== 'init').every((c) => c.ready);
  const cond = (type: string, ok: boolean): V1PodCondition => ({ type, status: ok ? 'True' : 'False', lastTransitionTime: now });
  return [
    cond('PodScheduled', true),
    cond('PodReadyToStartContainers', Boolean(s.ip)),
    cond('Initialized', s.initialized),
    cond('ContainersReady', containersReady),
    cond('Ready', containersReady && !s.stopping),
  ];
}

export class PodStatusWriter {
  private last = '';
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private readonly kc: KubeConfig;
  private readonly state: () => PodState;
  private readonly written: (status: V1Pod['status']) => void;
  private readonly log: (l: string) => void;

  constructor(o: { kc: KubeConfig; state: () => PodState; written: (status: V1Pod['status']) => void; log: (l: string) => void }) {
    this.kc = o.kc;
    this.state = o.state;
    this.written = o.written;
    this.log = o.log;
  }

  /** Writes the status soon, coalescing bursts. */
  soon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }, 20);
  }

  cancel(): void {
    clearTimeout(this.timer);
  }

  private async flush(): Promise<void> {
    const s = this.state();
    const conds = conditions(s);
    const status = {
      phase: s.phase,
      hostIP: s.hostIp,
      hostIPs: [{ ip: s.hostIp }],
      podIP: s.ip,
      podIPs: s.ip ? [{ ip: s.ip }] : undefined,
      startTime: s.startTime,
      initContainerStatuses: s.ctrs.filter((c) => c.kind !== 'app').map(containerStatus),
      containerStatuses: s.ctrs.filter((c) => c.kind === 'app').map(containerStatus),
    };
    const signature = JSON.stringify([status, conds.map((c) => c.status)]);
    if (signature === this.last) return;
    this.last = signature;
    const previous = new Map((s.pod.status?.conditions ?? []).map((c) => [c.type, c]));
    for (const c of conds) {
      const p = previous.get(c.type);
      if (p && p.status === c.status && p.lastTransitionTime) c.lastTransitionTime = p.lastTransitionTime;
    }
    const { name, namespace } = s.pod.metadata!;
    try {
      const updated = await this.kc.makeApiClient(CoreV1Api).patchNamespacedPodStatus(
        { name: name!, namespace: namespace!, body: { status: { ...status, conditions: conds } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      this.written(updated.status);
    } catch (e) {
      if ((e as { code?: number }).code !== 404) this.log(`pod ${namespace}/${name}: status write failed: ${(e as Error).message}`);
      this.last = '';
    }
  }
}
