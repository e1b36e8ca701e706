// Container probes as the kubelet runs them: httpGet and tcpSocket from the node's network namespace to the pod
// IP (through the node agent), exec inside the container. A prober loop applies initialDelaySeconds,
// periodSeconds, timeoutSeconds and the success/failure thresholds, and reports each change of result.
import type { V1Container, V1Probe } from '@kubernetes/client-node';
import type { NodeAgent } from './agent-client.ts';

export interface ProbeTarget {
  agent: NodeAgent;
  podIp: string;
  container: V1Container;
  /** Runs a command in the container; resolves to its exit code. */
  exec(argv: string[], timeoutMs: number): Promise<number>;
}

function portOf(port: number | string, c: V1Container): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = c.ports?.find((p) => p.name === port);
  if (!named) throw new Error(`probe port "${port}" is not a port of container ${c.name}`);
  return named.containerPort;
}

/** One probe attempt: true when it succeeded. */
export async function probeOnce(p: V1Probe, t: ProbeTarget): Promise<boolean> {
  const timeoutMs = (p.timeoutSeconds ?? 1) * 1000;
  try {
    if (p.httpGet) {
      const g = p.httpGet;
      if ((g.scheme ?? 'HTTP') !== 'HTTP') return false; // no HTTPS probes on the local node
      const host = g.host ?? t.podIp;
      const headers = Object.fromEntries((g.httpHeaders ?? []).map((h) => [h.name, h.value]));
      const r = await t.agent.http({ method: 'GET', url: `http://${host}:${portOf(g.port, t.container)}${g.path ?? '/'}`, headers: { 'user-agent': 'kube-probe/1.36', ...headers }, timeoutMs });
      return r.status >= 200 && r.status < 400;
    }
    if (p.tcpSocket) return (await t.agent.tcp({ host: p.tcpSocket.host ?? t.podIp, port: portOf(p.tcpSocket.port, t.container), timeoutMs })).connected;
    if (p.exec?.command) return (await t.exec(p.exec.command, timeoutMs)) === 0;
  } catch {
    return false;
  }
  return false; // grpc probes are not run here
}

export interface Prober {
  stop(): void;
}

/**
 * Runs `probe` until stopped; `onResult(true|false)` fires when the thresholded result changes (and for the first
 * result). `stopOnSuccess` ends the loop after the first success (startup probes).
 */
export function startProber(p: V1Probe, t: ProbeTarget, onResult: (ok: boolean) => void, o: { stopOnSuccess?: boolean; immediate?: boolean } = {}): Prober {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let result: boolean | undefined;
  let streak = 0;
  let streakOf: boolean | undefined;
  const tick = async () => {
    if (stopped) return;
    const ok = await probeOnce(p, t);
    if (stopped) return;
    streak = streakOf === ok ? streak + 1 : 1;
    streakOf = ok;
    const needed = ok ? (p.successThreshold ?? 1) : (p.failureThreshold ?? 3);
    if (result !== ok && (streak >= needed || (result === undefined && ok))) {
      result = ok;
      onResult(ok);
    }
    if (ok && o.stopOnSuccess) return;
    timer = setTimeout(() => void tick(), (p.periodSeconds ?? 10) * 1000);
  };
  timer = setTimeout(() => void tick(), o.immediate ? 0 : (p.initialDelaySeconds ?? 0) * 1000);
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
