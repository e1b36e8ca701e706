// State one HTTP handler shares across its connections and requests: the runtime, limits, the in-flight count
// and the drain flag, and the upstream stub the routing core gets (cluster existence only: endpoints are the
// cluster manager's business, never resolved per request by the router).
import type { ClusterRuntime, Runtime } from '../runtime.ts';
import type { UpstreamCluster } from '../routing/types.ts';

export interface Shared {
  runtime: Runtime;
  /** Request bodies up to this size are buffered so retries and mirrors can replay them. */
  bufferLimit: number;
  /** Request header block limit in bytes (names and values). */
  maxHeaderSize: number;
  inFlight: number;
  draining: boolean;
  /** Called whenever the in-flight count drops to zero. */
  onIdle: (() => void) | undefined;
  upstreamStub(name: string): UpstreamCluster;
}

export function makeShared(runtime: Runtime, bufferLimit: number, maxHeaderSize: number): Shared {
  const noEndpoints: never[] = [];
  const stubs = new WeakMap<ClusterRuntime, UpstreamCluster>();
  return {
    runtime,
    bufferLimit,
    maxHeaderSize,
    inFlight: 0,
    draining: false,
    onIdle: undefined,
    upstreamStub: (name) => {
      const c = runtime.clusters.get(name);
      if (!c) return { name, found: false, endpoints: noEndpoints, excluded: noEndpoints };
      // One stub per cluster runtime (a reload that replaces the cluster gets a new one).
      let stub = stubs.get(c);
      if (!stub) {
        stub = { name, found: true, endpoints: noEndpoints, excluded: noEndpoints };
        stubs.set(c, stub);
      }
      return stub;
    },
  };
}
