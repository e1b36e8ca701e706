// The identity controller (leader only). In: caches of pods, namespaces, service accounts, the identity Secrets and
// the trust bundle ConfigMaps; the mesh CA. Out: for every service account used by a pod with a sidecar, Secret
// `weft-identity-<sa>` in its namespace (`key.pem`, `cert-chain.pem`, `root-cert.pem`) owned by the ServiceAccount
// so the garbage collector removes it with the account; ConfigMap `weft-root-cert` (`root-cert.pem`) in every
// injected namespace. Writes happen only when something changed or a certificate is due for renewal; renewal is a
// delayed queue entry at the time `renewalDue` chose (recorded on the Secret, so a new leader keeps the schedule).
// After a write (once the cache shows it), and for pods first seen after one, the pods mounting the object are
// annotated with its digest (../pod-nudge.ts): the kubelet then mounts it at once instead of at its periodic resync.
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { CoreV1Api, type KubeConfig, type KubernetesObject, type V1ConfigMap, type V1Secret } from '@kubernetes/client-node';
import { bundlePem, type MeshCa } from '../../pki/ca.ts';
import { spiffeId, formatSpiffeId, sameSpiffeId } from '../../pki/spiffe.ts';
import { CHAIN_FILE, KEY_FILE, ROOT_FILE, inspectChain, issueWorkloadCert, renewalDue } from '../../pki/workload-cert.ts';
import type { Informer } from '../informer.ts';
import { KubeClient } from '../kube-client.ts';
import { createdAfter, kubePatchPod, lastWrittenAt, PodNudger, podsToNudge, type MountedObject, type PatchPod } from '../pod-nudge.ts';
import type { Logger } from '../log.ts';
import { Sightings } from '../sightings.ts';
import type { Timers } from '../timers.ts';
import { Requeue, WorkQueue } from '../workqueue.ts';
import {
  IDENTITY_HASH_ANNOTATION, IDENTITY_LABEL, IDENTITY_SECRET_PREFIX, ROOT_CERT_CONFIGMAP, ROOT_CERT_HASH_ANNOTATION, identitySecretName, namespaceNeedsBundle, neededServiceAccounts, podNeedsIdentity, podServiceAccount,
} from './desired.ts';

export const RENEW_AT_ANNOTATION = 'weft.dev/renew-at';
export const SPIFFE_ANNOTATION = 'weft.dev/spiffe-id';

type Obj = KubernetesObject & { data?: Record<string, string>; spec?: Record<string, unknown>; status?: Record<string, unknown> };
type Cache = Pick<Informer<Obj>, 'list' | 'get' | 'onChange'>;

export interface IdentityCaches {
  pods: Cache;
  namespaces: Cache;
  serviceAccounts: Cache;
  secrets: Cache;
  configMaps: Cache;
}

/** The writes the controller makes (CoreV1Api's; a test seam). */
export type IdentityApi = Pick<CoreV1Api, 'createNamespacedSecret' | 'replaceNamespacedSecret' | 'createNamespacedConfigMap' | 'replaceNamespacedConfigMap'>;

export interface IdentityControllerOptions {
  kubeConfig: KubeConfig;
  api?: IdentityApi;
  /** Annotates a pod (default: a merge patch through `kubeConfig`). */
  patchPod?: PatchPod;
  caches: IdentityCaches;
  /** The current mesh CA; called before each reconcile round, so it should be cheap (a cached value). */
  ca: () => MeshCa | undefined;
  trustDomain: string;
  ttlMs?: number;
  timers: Timers;
  rng?: () => number;
  log: Logger;
}

export interface IdentityStats {
  issued: number;
  bundlesWritten: number;
  podsNudged: number;
}

const code = (e: unknown): number | undefined => (e as { code?: number }).code;
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');
/** The signer's public key, parsed once per loaded CA rather than once per stored certificate checked. */
const signerKeys = new WeakMap<MeshCa, KeyObject>();
function signerKey(ca: MeshCa): KeyObject {
  let key = signerKeys.get(ca);
  if (!key) signerKeys.set(ca, (key = new X509Certificate(ca.signer.certPem).publicKey));
  return key;
}
/** How long pods wait for the cache to show a write before they are annotated anyway (../sightings.ts). */
const SIGHTING_MS = 2_000;
const digest = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);
const nsLabels = (c: Cache, ns: string): Record<string, string> | undefined => c.get(undefined, ns)?.metadata?.labels;

export class IdentityController {
  private readonly o: IdentityControllerOptions;
  private readonly core: IdentityApi;
  private readonly queue: WorkQueue;
  private readonly nudger: PodNudger;
  private readonly sightings: Sightings;
  private active = false;
  private readonly counters = { issued: 0, bundlesWritten: 0 };

  constructor(o: IdentityControllerOptions) {
    this.o = o;
    this.core = o.api ?? o.kubeConfig.makeApiClient(CoreV1Api);
    this.sightings = new Sightings(o.timers);
    this.nudger = new PodNudger(o.patchPod ?? kubePatchPod(new KubeClient(o.kubeConfig)));
    this.queue = new WorkQueue({ workers: 8, timers: o.timers, log: o.log.child('queue') });
    const c = o.caches;
    // Pods change all the time (status, conditions); only their service account and whether they need an
    // identity matter here (namespace label changes come through the namespace handler).
    const podSeen = new Map<string, string>();
    c.pods.onChange((key) => {
      const [ns = '', name = ''] = key.split('/');
      const pod = c.pods.get(ns, name);
      const sig = pod ? `${podServiceAccount(pod)}|${podNeedsIdentity(pod, nsLabels(c.namespaces, ns))}` : undefined;
      if (!pod) this.nudger.forget(ns, name);
      if (sig === podSeen.get(key)) return;
      if (sig === undefined) podSeen.delete(key);
      else podSeen.set(key, sig);
      this.add(`ns:${ns}`);
      if (pod) this.add(`sa:${ns}/${podServiceAccount(pod)}`);
    });
    c.namespaces.onChange((ns) => this.enqueueNamespace(ns));
    c.serviceAccounts.onChange((key) => this.add(`sa:${key}`));
    c.secrets.onChange((key) => {
      this.sightings.seen(`secret:${key}`);
      const [ns = '', name = ''] = key.split('/');
      if (name.startsWith(IDENTITY_SECRET_PREFIX)) this.add(`sa:${ns}/${name.slice(IDENTITY_SECRET_PREFIX.length)}`);
    });
    c.configMaps.onChange((key) => {
      this.sightings.seen(`configMap:${key}`);
      this.add(`ns:${key.split('/')[0] ?? ''}`);
    });
    this.queue.run((key) => this.reconcile(key));
  }

  /** Leader only: start writing, and look at everything once. */
  activate(): void {
    this.active = true;
    this.resync();
  }

  deactivate(): void {
    this.active = false;
    this.sightings.clear();
  }

  /** Queues every namespace and every needed identity (after a CA change, or as a safety net). */
  resync(): void {
    if (!this.active) return;
    for (const ns of this.o.caches.namespaces.list()) this.enqueueNamespace(ns.metadata?.name ?? '');
  }

  stats(): IdentityStats {
    return { ...this.counters, podsNudged: this.nudger.nudged };
  }

  idle(): Promise<void> {
    return this.queue.whenIdle();
  }

  async stop(): Promise<void> {
    this.active = false;
    this.sightings.clear();
    await this.queue.shutdown();
  }

  private add(key: string): void {
    if (this.active) this.queue.add(key);
  }

  private enqueueNamespace(ns: string): void {
    if (!this.active || !ns) return;
    this.queue.add(`ns:${ns}`);
    const pods = this.o.caches.pods.list(ns);
    for (const sa of neededServiceAccounts(pods, nsLabels(this.o.caches.namespaces, ns))) this.queue.add(`sa:${ns}/${sa}`);
  }

  private async reconcile(key: string): Promise<void> {
    if (!this.active) return;
    const ca = this.o.ca();
    if (!ca) throw new Requeue('mesh CA not loaded yet');
    if (key.startsWith('ns:')) return this.reconcileBundle(key.slice(3), ca);
    const [ns = '', sa = ''] = key.slice(3).split('/');
    return this.reconcileIdentity(key, ns, sa, ca);
  }

  private async reconcileBundle(ns: string, ca: MeshCa): Promise<void> {
    const c = this.o.caches;
    const namespace = c.namespaces.get(undefined, ns);
    if (!namespace || namespace.metadata?.deletionTimestamp) return;
    if (!namespaceNeedsBundle(c.pods.list(ns), namespace.metadata?.labels)) return;
    const bundle = bundlePem(ca);
    const current = c.configMaps.get(ns, ROOT_CERT_CONFIGMAP);
    const mounted: MountedObject = { kind: 'configMap', name: ROOT_CERT_CONFIGMAP };
    if (current?.data?.[ROOT_FILE] === bundle) return this.nudgePods(ns, mounted, ROOT_CERT_HASH_ANNOTATION, digest(bundle), lastWrittenAt(current));
    const body: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: ROOT_CERT_CONFIGMAP, namespace: ns, resourceVersion: current?.metadata?.resourceVersion, labels: { 'app.kubernetes.io/part-of': 'weft' } },
      data: { [ROOT_FILE]: bundle },
    };
    await this.write(() => (current ? this.core.replaceNamespacedConfigMap({ name: ROOT_CERT_CONFIGMAP, namespace: ns, body }) : this.core.createNamespacedConfigMap({ namespace: ns, body })));
    this.counters.bundlesWritten++;
    this.o.log.info('trust bundle written', { namespace: ns, roots: ca.rootsPem.length });
    await this.sightings.wait(`configMap:${ns}/${ROOT_CERT_CONFIGMAP}`, () => c.configMaps.get(ns, ROOT_CERT_CONFIGMAP)?.data?.[ROOT_FILE] === bundle, SIGHTING_MS);
    await this.nudgePods(ns, mounted, ROOT_CERT_HASH_ANNOTATION, digest(bundle));
  }

  private async reconcileIdentity(key: string, ns: string, sa: string, ca: MeshCa): Promise<void> {
    const c = this.o.caches;
    const needed = neededServiceAccounts(c.pods.list(ns), nsLabels(c.namespaces, ns));
    if (!needed.has(sa)) return; // kept until its ServiceAccount goes (owner reference), as a running pod may still mount it
    const account = c.serviceAccounts.get(ns, sa);
    const uid = account?.metadata?.uid;
    if (!account || !uid || account.metadata?.deletionTimestamp) return; // its add event brings us back
    const id = spiffeId(this.o.trustDomain, ns, sa);
    const name = identitySecretName(sa);
    const current = c.secrets.get(ns, name);
    const now = this.o.timers.now();
    const dueAt = current ? this.currentDue(current, ca, id, uid, now) : undefined;
    const mounted: MountedObject = { kind: 'secret', name };
    if (current && dueAt !== undefined) {
      this.queue.addAfter(key, Math.min(dueAt - now, 2 ** 31 - 1));
      return this.nudgePods(ns, mounted, IDENTITY_HASH_ANNOTATION, digest(unb64(current.data?.[CHAIN_FILE])), lastWrittenAt(current));
    }
    const cert = await issueWorkloadCert(ca, id, { now: new Date(now), ttlMs: this.o.ttlMs });
    const due = renewalDue(cert, this.o.rng);
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace: ns,
        resourceVersion: current?.metadata?.resourceVersion,
        labels: { [IDENTITY_LABEL]: 'true', 'app.kubernetes.io/part-of': 'weft' },
        annotations: { [SPIFFE_ANNOTATION]: formatSpiffeId(id), [RENEW_AT_ANNOTATION]: due.toISOString() },
        ownerReferences: [{ apiVersion: 'v1', kind: 'ServiceAccount', name: sa, uid }],
      },
      type: 'Opaque',
      data: { [KEY_FILE]: b64(cert.keyPem), [CHAIN_FILE]: b64(cert.certChainPem), [ROOT_FILE]: b64(cert.rootCertPem) },
    };
    await this.write(() => (current ? this.core.replaceNamespacedSecret({ name, namespace: ns, body }) : this.core.createNamespacedSecret({ namespace: ns, body })));
    this.counters.issued++;
    this.o.log.info(current ? 'workload certificate renewed' : 'workload certificate issued', { namespace: ns, serviceAccount: sa, notAfter: cert.notAfter.toISOString(), renewAt: due.toISOString() });
    this.queue.addAfter(key, Math.max(1, due.getTime() - now));
    await this.sightings.wait(`secret:${ns}/${name}`, () => unb64(c.secrets.get(ns, name)?.data?.[CHAIN_FILE]) === cert.certChainPem, SIGHTING_MS);
    await this.nudgePods(ns, mounted, IDENTITY_HASH_ANNOTATION, digest(cert.certChainPem));
  }

  /**
   * Annotates the pods of `ns` that mount `o` and do not show `value` yet, so the kubelet mounts what was written.
   * With `writtenAt` (the object was there already: the pods are ones first seen since) pods created after that
   * write are left alone: they mounted it when they started. A failed patch fails the reconcile, which is retried.
   */
  private async nudgePods(ns: string, o: MountedObject, annotation: string, value: string, writtenAt?: number): Promise<void> {
    const due = podsToNudge(this.o.caches.pods.list(ns), o, annotation, value).filter((p) => writtenAt === undefined || !createdAfter(p, writtenAt));
    const results = await Promise.allSettled(due.map((p) => this.nudger.nudge(ns, p.metadata?.name ?? '', p.metadata?.uid ?? '', { [annotation]: value })));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length > 0) throw new Error(`annotating ${failed.length} pod(s) mounting ${o.kind} ${o.name} failed: ${((failed[0] as PromiseRejectedResult).reason as Error).message}`);
  }

  /** When the stored certificate is due; undefined when it must be replaced now. */
  private currentDue(secret: Obj, ca: MeshCa, id: ReturnType<typeof spiffeId>, uid: string, now: number): number | undefined {
    const d = secret.data ?? {};
    if (!d[KEY_FILE] || unb64(d[ROOT_FILE]) !== bundlePem(ca)) return undefined;
    if (!(secret.metadata?.ownerReferences ?? []).some((r) => r.uid === uid)) return undefined;
    const info = inspectChain(unb64(d[CHAIN_FILE]));
    if (!info?.id || !sameSpiffeId(info.id, id)) return undefined;
    // Issued by the current signer (a new plug-in CA or a rotated root replaces every certificate).
    if (!info.leaf.verify(signerKey(ca))) return undefined;
    const recorded = Date.parse(secret.metadata?.annotations?.[RENEW_AT_ANNOTATION] ?? '');
    const due = Number.isFinite(recorded) && recorded < info.notAfter.getTime() ? recorded : renewalDue(info, this.o.rng).getTime();
    return now < due ? due : undefined;
  }

  /** A write lost to a concurrent change is retried once the cache shows the newer object. */
  private async write(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (code(e) === 409) throw new Requeue('identity object changed concurrently');
      throw e;
    }
  }
}
