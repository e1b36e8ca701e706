// A gateway's TLS servers checked as soon as their inputs change (config, identity, credentials), not at the first
// handshake: every filter chain with a DownstreamTlsContext is built (so the first client does not pay for it)
// and a chain that cannot be built — a credential missing from the credentials directory, a key that does not
// match its certificate — is logged once, naming the listener, the chain and the reason. In: the runtime and the
// log; out: nothing but the warm cache in downstream-tls.ts and the log lines.
import { anyType, arr, isObj, obj, str } from '../routing/envoy-values.ts';
import { DOWNSTREAM_TLS_TYPE } from '../routing/engine.ts';
import type { Runtime } from '../runtime.ts';
import type { LogFn } from './connection.ts';
import { downstreamTlsFor } from './downstream-tls.ts';

/** Builds the TLS settings of every terminating chain under the live config; returns the chains that failed. */
export function checkGatewayTls(runtime: Runtime, log: LogFn): Array<{ listener: string; filterChain: string; reason: string }> {
  const loaded = runtime.live.current();
  if (!loaded) return [];
  const failed: Array<{ listener: string; filterChain: string; reason: string }> = [];
  for (const l of loaded.config.listeners) {
    const chains = [...arr(l.filterChains), ...(isObj(l.defaultFilterChain) ? [l.defaultFilterChain] : [])];
    for (const chain of chains) {
      const tls = obj(obj(chain.transportSocket).typedConfig);
      if (anyType(tls) !== DOWNSTREAM_TLS_TYPE) continue;
      const outcome = downstreamTlsFor(runtime, loaded, tls);
      if (outcome.kind === 'ok') continue;
      const where = { listener: str(l.name), filterChain: str(chain.name) };
      failed.push({ ...where, reason: outcome.reason });
      // Reported once per version of its inputs: the connections that fail on it later log at debug.
      if (outcome.fresh) log('warn', 'TLS server cannot serve: handshakes on this filter chain fail until its certificates are fixed', { ...where, error: outcome.reason });
    }
  }
  return failed;
}
