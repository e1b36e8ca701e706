// The proxy's real parts for startSidecar: the cluster manager (upstream/), the HTTP handler (http/) and the
// listeners (net/). In: the logger the listeners report to. Out: SidecarParts.
import type { Logger } from '../controllers/log.ts';
import { createHttpHandler } from './http/index.ts';
import { startListeners } from './net/listeners.ts';
import type { SidecarParts } from './sidecar.ts';
import { createClusterManager } from './upstream/index.ts';

export function defaultParts(log?: Logger): SidecarParts {
  return {
    clusters: (deps) => createClusterManager(deps),
    http: (runtime) => createHttpHandler(runtime),
    listeners: (runtime, http, opts) => startListeners(runtime, http, {
      ...opts,
      ...(log ? { log: (level, msg, fields) => log[level](msg, fields) } : {}),
    }),
  };
}
