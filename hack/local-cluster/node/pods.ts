// One pod on the local node, from start to cleanup, in the kubelet's order: network namespace, volumes, init
// containers one by one (native sidecars — restartPolicy Always — start and must pass their startup probe before
// the next one), then the containers together; probes; restarts with backoff; status written to the API server on
// every change (pod-status.ts); on deletion the containers get SIGTERM (sidecars last) and SIGKILL after the grace
// period.
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { KubeConfig, V1Container, V1Pod } from '@kubernetes/client-node';
import type { NodeAgent } from './agent-client.ts';
import { ImageError, launch, programFor, runIn, signalGroup, type Launch, type Mount } from './containers.ts';
import { containerEnv } from './env.ts';
import type { NodeNetwork, PodNet } from './network.ts';
import { PodStatusWriter, type Ctr } from './pod-status.ts';
import { startProber } from './probes.ts';
import { PodVolumes } from './volumes.ts';

export interface PodHost {
  kc: KubeConfig;
  nodeName: string;
  hostIp: string;
  network: NodeNetwork;
  agent: NodeAgent;
  toolsBin: string;
  dir: string;
  weftImageRoot: () => string;
  log: (line: string) => void;
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PodRuntime {
  readonly key: string;
  readonly uid: string;
  pod: V1Pod;
  net?: PodNet;
  readonly volumes: PodVolumes;
  private readonly ctrs: Ctr[];
  private stopping = false;
  private initialized = false;
  private phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' = 'Pending';
  private startTime = new Date();
  private readonly podDir: string;
  private readonly host: PodHost;
  private readonly status: PodStatusWriter;
  private readonly launched = new Map<string, Omit<Launch, 'logFile'>>();

  constructor(pod: V1Pod, host: PodHost) {
    this.host = host;
    this.pod = pod;
    this.uid = pod.metadata!.uid!;
    this.key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
    this.podDir = join(host.dir, 'pods', this.uid);
    this.volumes = new PodVolumes({ kc: host.kc, dir: this.podDir });
    this.ctrs = [
      ...(pod.spec!.initContainers ?? []).map((spec) => ({ spec, kind: spec.restartPolicy === 'Always' ? 'sidecar' : 'init', running: false, started: false, ready: false, restarts: 0, probers: [] }) as Ctr),
      ...pod.spec!.containers.map((spec) => ({ spec, kind: 'app', running: false, started: false, ready: false, restarts: 0, probers: [] }) as Ctr),
    ];
    for (const c of this.ctrs) c.waiting = { reason: c.kind === 'init' ? 'PodInitializing' : 'ContainerCreating' };
    this.status = new PodStatusWriter({
      kc: host.kc,
      log: host.log,
      state: () => ({
        pod: this.pod, ctrs: this.ctrs, phase: this.phase, ip: this.net?.ip, hostIp: host.hostIp,
        startTime: this.startTime, initialized: this.initialized, stopping: this.stopping,
      }),
      written: (status) => (this.pod = { ...this.pod, status }),
    });
  }

  get ip(): string | undefined {
    return this.net?.ip;
  }

  /** Runs the pod until it completes or stop() is called. */
  async run(): Promise<void> {
    this.net = this.host.network.addPod(this.uid);
    this.pod = { ...this.pod, status: { ...this.pod.status, podIP: this.net.ip } };
    this.applySysctls();
    this.status.soon();
    // Volumes and environments must resolve before anything starts (missing non-optional objects: retry).
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.volumes.sync(this.pod);
        break;
      } catch (e) {
        for (const c of this.ctrs) c.waiting = { reason: c.kind === 'init' ? 'PodInitializing' : 'ContainerCreating', message: (e as Error).message };
        this.status.soon();
        await sleep(Math.min(500 * 2 ** attempt, 5000));
      }
    }
    for (const c of this.ctrs.filter((x) => x.kind !== 'app')) {
      if (this.stopping) return;
      if (c.kind === 'sidecar') {
        await this.startContainer(c);
        while (!c.started && !this.stopping) await sleep(50);
        continue;
      }
      for (let attempt = 0; ; attempt++) {
        const code = await this.startContainer(c).then(() => c.exited!);
        if (this.stopping) return;
        if (code === 0) break;
        if (this.pod.spec!.restartPolicy === 'Never') return this.finish('Failed');
        await sleep(Math.min(1000 * 2 ** attempt, 10_000));
      }
    }
    this.initialized = true;
    this.phase = 'Running';
    await Promise.all(this.ctrs.filter((c) => c.kind === 'app').map((c) => this.startContainer(c)));
    this.status.soon();
  }

  /** The pod's network sysctls (e.g. net.ipv4.ip_unprivileged_port_start), set in its own namespace. */
  private applySysctls(): void {
    for (const { name, value } of this.pod.spec!.securityContext?.sysctls ?? []) {
      if (!/^net\.[a-z0-9_.]+$/.test(name)) {
        this.host.log(`pod ${this.key}: sysctl ${name} is not a namespaced net.* sysctl; not set`);
        continue;
      }
      try {
        execFileSync('ip', ['netns', 'exec', this.net!.ns, 'sh', '-c', 'printf %s "$2" > "/proc/sys/$1"', 'sh', name.replaceAll('.', '/'), value], { stdio: 'pipe' });
      } catch (e) {
        this.host.log(`pod ${this.key}: sysctl ${name}=${value}: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`);
      }
    }
  }

  private finish(phase: 'Succeeded' | 'Failed'): void {
    this.phase = phase;
    this.status.soon();
  }

  private mountsOf(c: V1Container): Mount[] {
    return (c.volumeMounts ?? []).map((m) => {
      const base = this.volumes.hostPath(m.name);
      if (!base) throw new Error(`container ${c.name}: volumeMount ${m.name} names no volume of the pod`);
      return { source: m.subPath ? join(base, m.subPath) : base, target: m.mountPath, readOnly: Boolean(m.readOnly) };
    });
  }

  private userOf(c: V1Container): { uid: number; gid: number } {
    const uid = c.securityContext?.runAsUser ?? this.pod.spec!.securityContext?.runAsUser ?? 0;
    const gid = c.securityContext?.runAsGroup ?? this.pod.spec!.securityContext?.runAsGroup ?? 0;
    return { uid, gid };
  }

  private async launchSpec(c: V1Container): Promise<Omit<Launch, 'logFile'>> {
    const program = programFor(c, this.host.weftImageRoot);
    const env = await containerEnv(this.host.kc, this.pod, c);
    return { netns: this.net!.ns, ...this.userOf(c), mounts: this.mountsOf(c), program, env, toolsBin: this.host.toolsBin };
  }

  /** Runs a command in one of the pod's containers (its network, mounts, user and environment). */
  async exec(container: string, argv: string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
    const c = this.ctrs.find((x) => x.spec.name === container);
    if (!c || !this.net) throw new Error(`pod ${this.key} has no running container ${container}`);
    // The environment the container started with (as a runtime keeps it): exec probes do not re-read it each time.
    const spec = this.launched.get(container) ?? (await this.launchSpec(c.spec));
    const program = { ...spec.program, argv: argv[0] === 'node' ? [process.execPath, ...argv.slice(1)] : argv };
    return runIn({ ...spec, program }, timeoutMs);
  }

  logFile(container: string): string {
    return join(this.podDir, 'logs', `${container}.log`);
  }

  private async startContainer(c: Ctr): Promise<void> {
    let spec;
    try {
      spec = await this.launchSpec(c.spec);
    } catch (e) {
      const message = (e as Error).message;
      if (c.waiting?.message !== message) this.host.log(`pod ${this.key} container ${c.spec.name}: ${message}`); // once, not per retry
      c.waiting = { reason: e instanceof ImageError ? 'ErrImagePull' : 'CreateContainerConfigError', message };
      this.status.soon();
      c.exited = sleep(5000).then(() => -1);
      if (c.kind !== 'init') void c.exited.then(() => (this.stopping ? undefined : this.startContainer(c)));
      return;
    }
    this.launched.set(c.spec.name, spec);
    const child = launch({ ...spec, logFile: this.logFile(c.spec.name) });
    c.child = child;
    c.running = true;
    c.startedAt = new Date();
    c.waiting = undefined;
    c.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 137 : -1))));
    void c.exited.then((code) => this.onExit(c, code));
    if (c.kind !== 'init') this.startProbes(c);
    this.status.soon();
  }

  private startProbes(c: Ctr): void {
    const target = {
      agent: this.host.agent,
      podIp: this.net!.ip,
      container: c.spec,
      exec: async (argv: string[], timeoutMs: number) => (await this.exec(c.spec.name, argv, timeoutMs)).code,
    };
    const afterStart = () => {
      c.started = true;
      if (c.spec.readinessProbe) {
        c.probers.push(startProber(c.spec.readinessProbe, target, (ok) => this.setReady(c, ok), { immediate: true }));
      } else {
        this.setReady(c, true);
      }
      if (c.spec.livenessProbe) {
        c.probers.push(startProber(c.spec.livenessProbe, target, (ok) => {
          if (!ok && !this.stopping) signalGroup(c.child!, 'SIGKILL'); // restarted by onExit
        }));
      }
      this.status.soon();
    };
    if (c.spec.startupProbe) c.probers.push(startProber(c.spec.startupProbe, target, (ok) => ok && afterStart(), { stopOnSuccess: true }));
    else afterStart();
  }

  private setReady(c: Ctr, ready: boolean): void {
    if (c.ready === ready) return;
    c.ready = ready;
    this.status.soon();
  }

  private onExit(c: Ctr, code: number): void {
    for (const p of c.probers.splice(0)) p.stop();
    c.running = false;
    c.ready = false;
    c.started = false;
    c.terminated = { exitCode: code, reason: code === 0 ? 'Completed' : 'Error', finishedAt: new Date(), startedAt: c.startedAt };
    this.status.soon();
    if (this.stopping || c.kind === 'init') return;
    const policy = c.kind === 'sidecar' ? 'Always' : this.pod.spec!.restartPolicy ?? 'Always';
    if (policy === 'Always' || (policy === 'OnFailure' && code !== 0)) {
      c.restarts++;
      c.waiting = { reason: 'CrashLoopBackOff', message: `back-off restarting ${c.spec.name} (exit ${code})` };
      this.host.log(`pod ${this.key} container ${c.spec.name} exited ${code}; restarting`);
      void sleep(Math.min(1000 * 2 ** (c.restarts - 1), 10_000)).then(() => (this.stopping ? undefined : this.startContainer(c)));
      return;
    }
    const apps = this.ctrs.filter((x) => x.kind === 'app');
    if (apps.every((x) => !x.running && x.terminated)) this.finish(apps.every((x) => x.terminated!.exitCode === 0) ? 'Succeeded' : 'Failed');
  }

  /** The pod object changed (or the periodic resync is due): refresh its volumes, as the kubelet does. */
  async resync(pod: V1Pod): Promise<void> {
    this.pod = { ...pod, status: { ...pod.status, podIP: this.net?.ip } };
    if (!this.net || this.stopping) return;
    await this.volumes.sync(this.pod).catch((e: Error) => this.host.log(`pod ${this.key}: volume resync failed: ${e.message}`));
  }

  /** SIGTERM to the app containers, then to the sidecars in reverse order; SIGKILL when the grace period ends. */
  async stop(graceSeconds: number): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + graceSeconds * 1000;
    const stopAll = async (cs: Ctr[]) => {
      for (const c of cs) for (const p of c.probers.splice(0)) p.stop();
      const live = cs.filter((c) => c.running && c.child);
      for (const c of live) signalGroup(c.child!, 'SIGTERM');
      const kill = setTimeout(() => live.forEach((c) => signalGroup(c.child!, 'SIGKILL')), Math.max(deadline - Date.now(), 2000));
      await Promise.all(live.map((c) => c.exited));
      clearTimeout(kill);
    };
    await stopAll(this.ctrs.filter((c) => c.kind === 'app'));
    for (const c of this.ctrs.filter((x) => x.kind !== 'app').reverse()) await stopAll([c]);
    this.status.cancel();
    if (this.net) this.host.network.removePod(this.net);
    this.volumes.remove();
  }
}
