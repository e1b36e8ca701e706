// The proxy's real parts for startSidecar: the cluster manager (upstream/), the HTTP handler (http/) and the
// listeners (net/). In: nothing. Out: SidecarParts.
import type { ListenerSet, SidecarParts } from './sidecar.ts';
import { createClusterManager } from './upstream/index.ts';
import { createHttpHandler } from './http/index.ts';

const NO_LISTENERS: ListenerSet = {
  stopAccepting: async () => {},
  connections: () => 0,
  close: async () => {},
};

export function defaultParts(): SidecarParts {
  return {
    clusters: (deps) => createClusterManager(deps),
    http: (runtime) => createHttpHandler(runtime),
    listeners: async (_runtime, _http, opts) => {
      if (opts.capture === 'none' && opts.explicit.length === 0 && !opts.gateway) return NO_LISTENERS;
      throw new Error('listeners are not part of this build yet');
    },
  };
}
