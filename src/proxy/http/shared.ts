// State one HTTP handler shares across its connections and requests: the runtime, limits, the in-flight count
// and the drain flag, and the upstream stub the routing core gets (cluster existence only: endpoints are the
// cluster manager's business, never resolved per request by the router).
import type { Runtime } from '../runtime.ts';
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
  return {
    runtime,
    bufferLimit,
    maxHeaderSize,
    inFlight: 0,
    draining: false,
    onIdle: undefined,
    upstreamStub: (name) => ({ name, found: runtime.clusters.get(name) !== undefined, endpoints: noEndpoints, excluded: noEndpoints }),
  };
}
