// DestinationRule lookup for one client workload and the traffic policy that applies to one cluster (host, port,
// subset), with Istio's precedence: subset port-level > subset > rule port-level > rule. Rule objects in, the
// effective policy out; which rule shaped the output is recorded through ctx.use().
import type { DestinationRule } from '../api/index.ts';
import type {
  ClientTls, ConnectionPool, LoadBalancer, OutlierDetection, TrafficPolicy,
} from '../api/destinationrule.ts';
import type { MeshService } from '../model/types.ts';
import type { TranslateContext } from './index.ts';
import { objectKey } from './names.ts';

/** The parts of a TrafficPolicy that shape one cluster (port-level settings already resolved). */
export interface EffectivePolicy {
  loadBalancer?: LoadBalancer;
  connectionPool?: ConnectionPool;
  outlierDetection?: OutlierDetection;
  tls?: ClientTls;
  tunnel?: TrafficPolicy['tunnel'];
  proxyProtocol?: TrafficPolicy['proxyProtocol'];
  retryBudget?: TrafficPolicy['retryBudget'];
}

export type Subset = NonNullable<NonNullable<DestinationRule['spec']>['subsets']>[number];

/** `networking.istio.io` key of a rule, as Istio writes it into cluster metadata. */
export function ruleConfigPath(rule: DestinationRule): string {
  return `/apis/networking.istio.io/v1/namespaces/${rule.metadata?.namespace ?? ''}/destination-rule/${rule.metadata?.name ?? ''}`;
}

/**
 * The DestinationRule for `service` as seen by the workload (client namespace, service namespace, root
 * namespace; exportTo; a rule whose workloadSelector selects the workload first). Istio honours selectors for
 * outbound traffic only, so the inbound side asks without the workload.
 */
export function destinationRuleFor(
  ctx: TranslateContext, service: MeshService, direction: 'inbound' | 'outbound' = 'outbound',
): DestinationRule | undefined {
  const { workload, snapshot } = ctx;
  const rule = snapshot.destinationRuleFor(service.hostname, workload.namespace, direction === 'outbound' ? workload : undefined);
  if (rule) ctx.use(objectKey('DestinationRule', rule.metadata?.namespace ?? '', rule.metadata?.name ?? ''));
  return rule;
}

/** A port's own settings replace the policy's four parts entirely (unset parts fall back to defaults, not to the
 * rule level); tunnel, PROXY protocol and retry budget have no port-level form and stay. */
function atPort(policy: TrafficPolicy | undefined, port: number): { policy?: EffectivePolicy; portLevel: boolean } {
  if (!policy) return { portLevel: false };
  const own = policy.portLevelSettings?.find((p) => p.port?.number === port);
  const rest = pick({ tunnel: policy.tunnel, proxyProtocol: policy.proxyProtocol, retryBudget: policy.retryBudget });
  if (!own) {
    return {
      policy: {
        ...pick({
          loadBalancer: policy.loadBalancer, connectionPool: policy.connectionPool,
          outlierDetection: policy.outlierDetection, tls: policy.tls,
        }),
        ...rest,
      },
      portLevel: false,
    };
  }
  return {
    policy: {
      ...pick({ loadBalancer: own.loadBalancer, connectionPool: own.connectionPool, outlierDetection: own.outlierDetection, tls: own.tls }),
      ...rest,
    },
    portLevel: true,
  };
}

function pick<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The policy for one cluster of the rule: the rule's (port-level resolved), overridden by the subset's. */
export function effectivePolicy(rule: DestinationRule | undefined, port: number, subset?: Subset): EffectivePolicy | undefined {
  const base = atPort(rule?.spec?.trafficPolicy, port).policy;
  if (!subset?.trafficPolicy) return base;
  const { policy: sub = {}, portLevel } = atPort(subset.trafficPolicy, port);
  if (!base) return sub;
  const merged: EffectivePolicy = { ...base };
  // A subset's port-level settings replace every part; otherwise only the parts the subset sets.
  for (const part of ['connectionPool', 'outlierDetection', 'loadBalancer', 'tls'] as const) {
    if (sub[part] !== undefined || portLevel) {
      if (sub[part] === undefined) delete merged[part];
      else (merged as Record<string, unknown>)[part] = sub[part];
    }
  }
  for (const part of ['tunnel', 'proxyProtocol', 'retryBudget'] as const) {
    if (sub[part] !== undefined) (merged as Record<string, unknown>)[part] = sub[part];
  }
  return merged;
}
