// A ConnContext for an accepted connection: what the listener learned (direction, original destination,
// sniffed protocol) in; `plan()` out, which plans under the live config and plans again only when the live
// config changed since the last call (so each request of a long-lived connection follows the latest config).
import type { ConnectionInfo, ConnectionPlan } from '../routing/engine.ts';
import { planConnection } from '../routing/engine.ts';
import type { ConnContext, LoadedConfig, Runtime } from '../runtime.ts';

export function connContext(runtime: Runtime, kind: ConnContext['kind'], info: ConnectionInfo, downstreamRemote: string): ConnContext {
  let planned: { config: LoadedConfig; plan: ConnectionPlan } | undefined;
  return {
    kind,
    info,
    downstreamRemote,
    plan() {
      const config = runtime.live.current();
      if (!config) return { kind: 'closed', reason: 'no config loaded yet' };
      if (planned?.config !== config) planned = { config, plan: planConnection(config.compiled, info) };
      return planned.plan;
    },
  };
}
