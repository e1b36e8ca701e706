// Request mirroring (request_mirror_policies): a fire-and-forget copy of a request to another cluster, its
// authority suffixed with `-shadow`, sent with the buffered body. The shadow's response is read and dropped;
// nothing about it (failures, overflow, missing cluster) touches the main request.
import type { Dispatcher } from 'undici';
import type { ClusterRuntime, LbContext, Runtime, UpstreamHost } from '../runtime.ts';
import type { MirrorSummary } from '../routing/types.ts';
import { shadowAuthority } from './headers.ts';

class ShadowHandler implements Dispatcher.DispatchHandler {
  readonly cluster: ClusterRuntime;
  readonly host: UpstreamHost;
  readonly started: number;
  readonly rt: Runtime;
  release: (() => void) | undefined;

  constructor(cluster: ClusterRuntime, host: UpstreamHost, release: () => void, rt: Runtime) {
    this.cluster = cluster;
    this.host = host;
    this.release = release;
    this.rt = rt;
    this.started = rt.now();
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number): void {
    if (status >= 200) this.cluster.report(this.host, { kind: 'response', status, latencyMs: this.rt.now() - this.started });
  }

  onResponseData(): void {}

  onResponseEnd(): void {
    this.done();
  }

  onRequestStart(): void {}

  onResponseError(): void {
    this.done();
  }

  private done(): void {
    const r = this.release;
    this.release = undefined;
    r?.();
  }
}

export function mirror(
  rt: Runtime, mirrors: readonly MirrorSummary[], method: string, path: string,
  headers: Record<string, string | string[]>, body: Buffer | null, lb: LbContext, downstream: 'http1' | 'http2',
): void {
  for (const m of mirrors) {
    if (m.percent < 100 && rt.random() * 100 >= m.percent) continue;
    const cluster = rt.clusters.get(m.cluster);
    if (!cluster) continue;
    const release = cluster.admitRequest();
    if (!release) continue;
    const host = cluster.pick(lb);
    if (!host) {
      release();
      continue;
    }
    const authority = typeof headers.host === 'string' ? headers.host : '';
    const h = { ...headers, host: shadowAuthority(authority) };
    const handler = new ShadowHandler(cluster, host, release, rt);
    try {
      cluster.dispatcher(host, downstream, h.host).dispatch({ path, method, headers: h, body }, handler);
    } catch {
      handler.onResponseError();
    }
  }
}
