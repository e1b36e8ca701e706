// Wires the distribution into the operator: the informers it needs beyond the operator's own (Namespaces,
// EndpointSlices, pod owners, the operator's ConfigMaps as metadata only, and the Secrets of the gateway
// namespaces for gateway credentials), change notifications into the loop, and the Programmed condition for the
// status reconciler.
// In: the operator's informer factory and caches, the validator, options. Out: informers to start with the
// others, the loop to activate on the leader, and `programmed(key)`.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { buildSnapshot } from '../../model/snapshot.ts';
import type { MeshOptions } from '../../model/types.ts';
import { translate } from '../../translate/index.ts';
import type { Condition } from '../conditions.ts';
import type { Finding } from '../../validate/result.ts';
import { CredentialsDelivery, KubeCredentialsWriter, type CredentialsWriter } from '../gateway/delivery.ts';
import { GatewaySecrets } from '../gateway/secrets.ts';
import type { Informer, InformerOptions } from '../informer.ts';
import { KubeClient } from '../kube-client.ts';
import { silentLogger, type Logger } from '../log.ts';
import type { Validate } from '../reconciler.ts';
import {
  CRON_JOBS, DAEMON_SETS, DEPLOYMENTS, ENDPOINT_SLICES, JOBS, NAMESPACES, REPLICA_SETS, SECRETS, STATEFUL_SETS, collectionPath, type ResourceType,
} from '../resources.ts';
import type { Timers } from '../timers.ts';
import { CachingBundleEncoder } from './encoder.ts';
import { DistributionLoop, type DistributionOptions } from './loop.ts';
import { programmedCondition } from './programmed.ts';
import { InformerSources, type Cache } from './sources.ts';
import { CONFIG_MAPS, CONFIG_MAP_SELECTOR, KubeDistributionWriter, type DistributionWriter } from './writer.ts';

export { DistributionLoop } from './loop.ts';

type AnyInformer = Informer<KubernetesObject>;

export interface DistributionSetup {
  kubeConfig: KubeConfig;
  /** The operator's informer factory (its timers, retry settings and logger). */
  informer: (type: ResourceType, extra?: Partial<InformerOptions<KubernetesObject>>) => AnyInformer;
  /** Informers the operator already runs, by kind (Service, Pod and the mesh kinds). */
  existing: ReadonlyMap<string, AnyInformer>;
  validate: Validate;
  rootNamespace: string;
  onProgrammed: (keys: string[]) => void;
  /** Namespaces whose Secrets gateway credentials are read from (default: the root namespace). Gateway workloads
   * elsewhere get their config but no credentials, and their Gateways say so. */
  gatewayNamespaces?: readonly string[];
  /** Where sidecars send traffic for hosts the mesh does not know (mesh option; default ALLOW_ANY). */
  outboundTrafficPolicy?: MeshOptions['outboundTrafficPolicy'];
  /** The mesh options each snapshot is built with, read per batch (mesh config and fetched key sets, over the
   * flags); they win over `outboundTrafficPolicy`. */
  meshOptions?: () => Partial<MeshOptions>;
  writer?: DistributionWriter;
  credentialsWriter?: CredentialsWriter;
  timers?: Timers;
  log?: Logger;
  tuning?: Pick<DistributionOptions, 'debounceMs' | 'maxDelayMs' | 'concurrency'>;
}

export interface Distribution {
  /** Informers the distribution added; the operator starts, syncs and stops them with its own. */
  informers: AnyInformer[];
  loop: DistributionLoop;
  /** The Secrets of the gateway namespaces (for the Gateway status: are the credentials there?). */
  secrets: GatewaySecrets;
  programmed(key: string): Condition | undefined;
  /** Findings only the whole mesh shows (a Gateway's IST0145 conflicts, its servers not served); undefined until
   * a batch looked at the object. */
  analysis(key: string): Finding[] | undefined;
}

export function createDistribution(s: DistributionSetup): Distribution {
  const added: AnyInformer[] = [];
  const caches = new Map<string, AnyInformer>(s.existing);
  for (const t of [NAMESPACES, ENDPOINT_SLICES, REPLICA_SETS, DEPLOYMENTS, STATEFUL_SETS, DAEMON_SETS, JOBS, CRON_JOBS]) {
    if (caches.has(t.kind)) continue;
    const inf = s.informer(t);
    caches.set(t.kind, inf);
    added.push(inf);
  }
  // Metadata only: the loop needs hashes and owners, never the (possibly large) data.
  const client = new KubeClient(s.kubeConfig);
  const configMaps = s.informer(CONFIG_MAPS, {
    labelSelector: CONFIG_MAP_SELECTOR,
    list: client.metadataList(collectionPath(CONFIG_MAPS), { labelSelector: CONFIG_MAP_SELECTOR }),
    watch: client.metadataWatch(),
  });
  caches.set('ConfigMap', configMaps);
  added.push(configMaps);
  // One informer per gateway namespace: the operator may read Secrets there and nowhere else.
  const secretInformers = new Map<string, AnyInformer>();
  for (const ns of new Set(s.gatewayNamespaces ?? [s.rootNamespace])) {
    const inf = s.informer(SECRETS, { namespace: ns });
    secretInformers.set(ns, inf);
    added.push(inf);
  }
  const secrets = new GatewaySecrets(secretInformers);

  const loop = new DistributionLoop({
    sources: new InformerSources(caches as ReadonlyMap<string, Cache>, s.validate),
    writer: s.writer ?? new KubeDistributionWriter(s.kubeConfig),
    buildSnapshot: (input) => buildSnapshot({
      ...input,
      options: {
        ...input.options,
        ...(s.outboundTrafficPolicy ? { outboundTrafficPolicy: s.outboundTrafficPolicy } : {}),
        ...s.meshOptions?.(),
        rootNamespace: s.rootNamespace,
      },
    }),
    translate,
    encoder: new CachingBundleEncoder(),
    rootNamespace: s.rootNamespace,
    onProgrammed: s.onProgrammed,
    credentials: new CredentialsDelivery({ secrets, writer: s.credentialsWriter ?? new KubeCredentialsWriter(s.kubeConfig), log: s.log ?? silentLogger }),
    timers: s.timers,
    log: s.log,
    ...s.tuning,
  });
  for (const [kind, inf] of caches) inf.onChange((key) => loop.notify(kind, key));
  secrets.onChange((key) => loop.notify('Secret', key));

  return {
    informers: added,
    loop,
    secrets,
    programmed(key) {
      const p = loop.programmed(key);
      return p ? programmedCondition(p, key.startsWith('Gateway/') ? 'gateway workloads' : 'workloads') : undefined;
    },
    analysis: (key) => loop.findings(key),
  };
}
