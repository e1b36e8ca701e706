// Delivers gateway credentials: for a gateway workload, the credentials its Gateways name (credentials.ts) read
// from its namespace's Secrets, written as ONE Secret `weft-gateway-credentials-<workload>` owned by the
// workload, only when the content differs from what is there. The distribution loop calls it for each gateway
// workload it translates and folds the credentials' hash into the pods' config-hash annotation, so the kubelet
// refreshes the mounted credentials when they change. In: workloads, the Gateways, the Secret caches. Out: Secret
// writes, and which workloads read a given Secret (so its change re-delivers them).
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { Gateway } from '../../api/index.ts';
import type { Workload } from '../../model/types.ts';
import type { Logger } from '../log.ts';
import { MANAGED_BY, MANAGED_BY_LABEL } from '../distribution/writer.ts';
import { buildCredentials, CACERT_SUFFIX, credentialsSecretName, workloadCredentialRefs, type Credentials } from './credentials.ts';
import type { GatewaySecrets } from './secrets.ts';

export const CREDENTIALS_HASH_ANNOTATION = 'weft.dev/credentials-hash';
/** Labels the credentials Secret with its workload's name. */
export const CREDENTIALS_LABEL = 'weft.dev/gateway-credentials';

type WorkloadOwner = Pick<Workload, 'apiVersion' | 'kind' | 'name' | 'namespace' | 'uid'>;

export interface CredentialsWriter {
  /** Creates the Secret, or replaces the one at `resourceVersion` (a conflict throws; the loop retries). */
  apply(w: WorkloadOwner, c: Credentials, resourceVersion?: string): Promise<void>;
}

export function credentialsSecretBody(w: WorkloadOwner, c: Credentials): Record<string, unknown> {
  const metadata: Record<string, unknown> = {
    name: credentialsSecretName(w.name),
    namespace: w.namespace,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [CREDENTIALS_LABEL]: w.name },
    annotations: { [CREDENTIALS_HASH_ANNOTATION]: c.hash },
  };
  // Removed with its workload by the garbage collector, like the workload's ConfigMap.
  if (w.uid) metadata.ownerReferences = [{ apiVersion: w.apiVersion, kind: w.kind, name: w.name, uid: w.uid, controller: false, blockOwnerDeletion: false }];
  return { apiVersion: 'v1', kind: 'Secret', metadata, type: 'Opaque', data: c.data };
}

/** create and update rather than server-side apply: RBAC grants no `patch` on Secrets (see config/rbac.yaml). */
export class KubeCredentialsWriter implements CredentialsWriter {
  private readonly core: CoreV1Api;

  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async apply(w: WorkloadOwner, c: Credentials, resourceVersion?: string): Promise<void> {
    const body = credentialsSecretBody(w, c) as V1Secret;
    const name = credentialsSecretName(w.name);
    if (resourceVersion === undefined) await this.core.createNamespacedSecret({ namespace: w.namespace, body });
    else await this.core.replaceNamespacedSecret({ name, namespace: w.namespace, body: { ...body, metadata: { ...body.metadata, resourceVersion } } });
  }
}

export type CredentialsResult = { kind: 'written' } | { kind: 'failed'; error: string };

export class CredentialsDelivery {
  private readonly secrets: GatewaySecrets;
  private readonly writer: CredentialsWriter;
  private readonly log: Logger;
  /** Workload key → the Secret names its credentials were read from (`<X>` and `<X>-cacert`). */
  private readonly reads = new Map<string, Set<string>>();
  private readonly lastWritten = new Map<string, string>();
  private readonly lastProblems = new Map<string, string>();

  constructor(o: { secrets: GatewaySecrets; writer: CredentialsWriter; log: Logger }) {
    this.secrets = o.secrets;
    this.writer = o.writer;
    this.log = o.log;
  }

  /** What the workload needs now, from the Gateways selecting it and its namespace's Secrets. */
  plan(key: string, w: Workload, gateways: readonly Gateway[]): Credentials {
    const refs = workloadCredentialRefs(w.labels, gateways);
    this.reads.set(key, new Set(refs.flatMap((r) => [r.name, `${r.name}${CACERT_SUFFIX}`])));
    const c = buildCredentials(refs, this.secrets.lookup(w.namespace), w.namespace);
    const sig = c.problems.map((p) => p.message).join('\n');
    if (sig !== (this.lastProblems.get(key) ?? '')) {
      if (sig) this.log.warn('gateway credentials not delivered', { workload: key, problems: c.problems.map((p) => p.message) });
      this.lastProblems.set(key, sig);
    }
    return c;
  }

  /** Writes the credentials Secret unless the cached one already holds them. */
  async write(key: string, w: Workload, c: Credentials): Promise<CredentialsResult> {
    if (!this.secrets.watched(w.namespace)) return { kind: 'written' }; // nothing can be read there; reported on the Gateway
    const cached = this.secrets.get(w.namespace, credentialsSecretName(w.name));
    if (!cached && c.hash === '') return { kind: 'written' };
    const hash = cached?.metadata?.annotations?.[CREDENTIALS_HASH_ANNOTATION] ?? '';
    const owned = !w.uid || (cached?.metadata?.ownerReferences ?? []).some((r) => r.uid === w.uid);
    if (cached && hash === c.hash && owned && (this.lastWritten.get(key) ?? c.hash) === c.hash) return { kind: 'written' };
    try {
      await this.writer.apply(w, c, cached?.metadata?.resourceVersion);
    } catch (err) {
      return { kind: 'failed', error: `writing Secret ${credentialsSecretName(w.name)} failed: ${(err as Error).message}` };
    }
    this.lastWritten.set(key, c.hash);
    this.log.info('gateway credentials written', { workload: key, secret: credentialsSecretName(w.name), credentials: Object.keys(c.data).length });
    return { kind: 'written' };
  }

  /** The gateway workloads to look at again after Secret `name` in `namespace` changed: those whose credentials
   * read it, and the one whose credentials Secret it is unless it shows what this process last wrote (an echo). */
  affectedBy(namespace: string, name: string): string[] {
    const out: string[] = [];
    for (const [key, names] of this.reads) {
      if (!key.startsWith(`${namespace}/`)) continue;
      if (names.has(name)) out.push(key);
      else if (credentialsSecretName(key.slice(namespace.length + 1)) === name && !this.isOwnEcho(key, namespace, name)) out.push(key);
    }
    return out;
  }

  private isOwnEcho(key: string, namespace: string, name: string): boolean {
    const written = this.lastWritten.get(key);
    return written !== undefined && this.secrets.get(namespace, name)?.metadata?.annotations?.[CREDENTIALS_HASH_ANNOTATION] === written;
  }

  forget(key: string): void {
    this.reads.delete(key);
    this.lastWritten.delete(key);
    this.lastProblems.delete(key);
  }

  clear(): void {
    this.reads.clear();
    this.lastWritten.clear();
    this.lastProblems.clear();
  }
}
