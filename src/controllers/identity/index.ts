// Wires workload identity into the operator: the informers it needs beyond the operator's own (ServiceAccounts,
// its labelled Secrets, the `weft-root-cert` ConfigMaps, Namespaces when nothing else watches them, the plug-in
// `cacerts` Secret), the mesh CA loaded (or created) by the leader — again whenever `cacerts` changes, and hourly so
// the root's own rotation is noticed — and the controller. In: the operator's informer factory and caches. Out: informers to start with the
// others, `activate`/`deactivate` for leadership, `stop`.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { bundlePem, CA_NAMESPACE, loadOrCreateMeshCa, PLUGIN_CA_SECRET, type MeshCa } from '../../pki/ca.ts';
import { DEFAULT_TRUST_DOMAIN } from '../../pki/spiffe.ts';
import type { Informer, InformerOptions } from '../informer.ts';
import type { Logger } from '../log.ts';
import { CONFIG_MAPS, NAMESPACES, SECRETS, SERVICE_ACCOUNTS, type ResourceType } from '../resources.ts';
import { expBackoff, type Timers } from '../timers.ts';
import { IdentityController, type IdentityCaches, type IdentityStats } from './controller.ts';
import { IDENTITY_LABEL, ROOT_CERT_CONFIGMAP } from './desired.ts';

export { IdentityController } from './controller.ts';
export { IDENTITY_LABEL, ROOT_CERT_CONFIGMAP, identitySecretName } from './desired.ts';

type AnyInformer = Informer<KubernetesObject>;

/** What `startOperator({ identity: … })` accepts. */
export interface IdentityOptions {
  /** SPIFFE trust domain (default cluster.local). */
  trustDomain?: string;
  /** Where `weft-ca` and a plug-in `cacerts` live (default weft-system). */
  caNamespace?: string;
  /** Workload certificate lifetime (default 24 h). */
  ttlMs?: number;
  /** How often the CA Secrets are re-read besides on every change of `cacerts` (default 1 h). */
  caReloadMs?: number;
  /** The clock of issuing and renewal (default the operator's timers). */
  timers?: Timers;
  rng?: () => number;
}

export interface IdentitySetup extends IdentityOptions {
  kubeConfig: KubeConfig;
  informer: (type: ResourceType, extra?: Partial<InformerOptions<KubernetesObject>>) => AnyInformer;
  /** Informers the operator already runs, by kind (at least Pod). */
  existing: ReadonlyMap<string, AnyInformer>;
  log: Logger;
}

export interface Identity {
  informers: AnyInformer[];
  controller: IdentityController;
  /** The loaded mesh CA (leader only), for tests and the trust bundle. */
  ca(): MeshCa | undefined;
  /** Re-reads the CA Secrets now; resolves when done. */
  reloadCa(): Promise<void>;
  /** Leader only: load the CA and start issuing; when already active, look at everything again. */
  activate(): void;
  deactivate(): void;
  stats(): IdentityStats;
  stop(): Promise<void>;
}

export function createIdentity(s: IdentitySetup): Identity {
  const timers = s.timers!;
  const added: AnyInformer[] = [];
  const pick = (t: ResourceType, extra?: Partial<InformerOptions<KubernetesObject>>): AnyInformer => {
    const have = extra ? undefined : s.existing.get(t.kind);
    if (have) return have;
    const inf = s.informer(t, extra);
    added.push(inf);
    return inf;
  };
  const caches = {
    pods: s.existing.get('Pod')!,
    namespaces: pick(NAMESPACES),
    serviceAccounts: pick(SERVICE_ACCOUNTS),
    secrets: pick(SECRETS, { labelSelector: IDENTITY_LABEL }),
    configMaps: pick(CONFIG_MAPS, { fieldSelector: `metadata.name=${ROOT_CERT_CONFIGMAP}` }),
  } as unknown as IdentityCaches;
  const pluginCa = pick(SECRETS, { namespace: s.caNamespace ?? CA_NAMESPACE, fieldSelector: `metadata.name=${PLUGIN_CA_SECRET}` });

  let ca: MeshCa | undefined;
  let active = false;
  let failures = 0;
  let timer: unknown;
  const controller = new IdentityController({
    kubeConfig: s.kubeConfig,
    caches,
    ca: () => ca,
    trustDomain: s.trustDomain ?? DEFAULT_TRUST_DOMAIN,
    ttlMs: s.ttlMs,
    timers,
    rng: s.rng,
    log: s.log,
  });

  const fingerprint = (c: MeshCa | undefined): string => (c ? `${c.signer.certPem}|${bundlePem(c)}|${c.intermediatesPem.join('')}` : '');
  const reload = async (): Promise<void> => {
    try {
      const next = await loadOrCreateMeshCa(s.kubeConfig, { namespace: s.caNamespace ?? CA_NAMESPACE, now: new Date(timers.now()) });
      failures = 0;
      if (fingerprint(next) !== fingerprint(ca)) {
        s.log.info('mesh CA loaded', { source: next.source, subject: next.signer.cert.subject, roots: next.rootsPem.length, notAfter: next.signer.cert.notAfter.toISOString() });
        ca = next;
        controller.resync();
      }
    } catch (err) {
      failures++;
      s.log.warn('could not load the mesh CA, will retry', { error: err, failures });
    }
  };
  const schedule = (): void => {
    if (!active) return;
    const delay = failures > 0 ? expBackoff(failures, 1_000, 60_000) : (s.caReloadMs ?? 3_600_000);
    timer = timers.setTimeout(() => void reload().then(schedule), delay);
    (timer as { unref?: () => void }).unref?.();
  };

  // A plug-in CA put in place, replaced or removed is taken up at once.
  pluginCa.onChange(() => {
    if (active) void reload();
  });

  return {
    informers: added,
    controller,
    ca: () => ca,
    reloadCa: reload,
    activate() {
      if (active) return controller.resync();
      active = true;
      controller.activate();
      void reload().then(schedule);
    },
    deactivate() {
      active = false;
      timers.clearTimeout(timer);
      controller.deactivate();
    },
    stats: () => controller.stats(),
    async stop() {
      active = false;
      timers.clearTimeout(timer);
      await controller.stop();
    },
  };
}
