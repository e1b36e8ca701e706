// Keeps the webhook's TLS trust in place on a cluster. In: a KubeConfig. Out: the Secret `weft-webhook-tls` holding
// the trust bundle and a serving certificate issued by the mesh CA (src/pki/ca.ts; created once, renewed in place
// when due or when the mesh CA changes, shared by every replica; the CA key is never copied into it), and the
// `caBundle` of the ValidatingWebhookConfiguration `weft-validator` and of the MutatingWebhookConfiguration
// `weft-injector`, patched whenever it differs from that CA (for instance after `kubectl apply -k config` reset it
// to empty).
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
  type V1Secret,
  type V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { bundlePem as bundlePemOf, loadOrCreateMeshCa } from '../pki/ca.ts';
import { issuedBy, issueServingFromMeshCa, needsRenewal, webhookDnsNames, WEBHOOK_CONFIGURATION, WEBHOOK_NAMESPACE, WEBHOOK_SERVICE } from './certs.ts';
import type { WebhookCerts } from './certs.ts';

export const WEBHOOK_SECRET = 'weft-webhook-tls';

type Log = (line: string) => void;

function code(e: unknown): number | undefined {
  return (e as { code?: number }).code;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

function fromSecret(s: V1Secret): WebhookCerts {
  const d = s.data ?? {};
  return { caPem: unb64(d['ca.crt']), caKeyPem: '', certPem: unb64(d['tls.crt']), keyPem: unb64(d['tls.key']) };
}

function toSecret(name: string, namespace: string, c: WebhookCerts, resourceVersion?: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, resourceVersion, labels: { 'app.kubernetes.io/part-of': 'weft', 'app.kubernetes.io/component': 'webhook' } },
    type: 'kubernetes.io/tls',
    data: { 'ca.crt': b64(c.caPem), 'tls.crt': b64(c.certPem), 'tls.key': b64(c.keyPem) },
  };
}

export interface CertSecretOptions {
  namespace?: string;
  name?: string;
  service?: string;
  /** Where the mesh CA's Secrets live (default: `namespace`). */
  caNamespace?: string;
  now?: Date;
}

/**
 * Returns the webhook certificates from the Secret, creating it (or renewing its serving certificate from the
 * stored CA) when needed. Replicas racing here converge: a lost create or update re-reads the winner's copy.
 */
export async function ensureWebhookCertSecret(kc: KubeConfig, opts: CertSecretOptions = {}): Promise<WebhookCerts> {
  const core = kc.makeApiClient(CoreV1Api);
  const namespace = opts.namespace ?? WEBHOOK_NAMESPACE;
  const name = opts.name ?? WEBHOOK_SECRET;
  const certOpts = { service: opts.service ?? WEBHOOK_SERVICE, namespace, now: opts.now ?? new Date() };
  const wanted = webhookDnsNames(certOpts.service, namespace);
  const ca = await loadOrCreateMeshCa(kc, { namespace: opts.caNamespace ?? namespace, now: certOpts.now });
  for (let attempt = 0; attempt < 5; attempt++) {
    let current: V1Secret | undefined;
    try {
      current = await core.readNamespacedSecret({ name, namespace });
    } catch (e) {
      if (code(e) !== 404) throw e;
    }
    try {
      if (!current) {
        const fresh = await issueServingFromMeshCa(ca, certOpts);
        await core.createNamespacedSecret({ namespace, body: toSecret(name, namespace, fresh) });
        return fresh;
      }
      const certs = fromSecret(current);
      if (certs.caPem === bundlePemOf(ca) && issuedBy(certs.certPem, ca) && !needsRenewal(certs, wanted, certOpts.now)) return certs;
      const renewed = await issueServingFromMeshCa(ca, certOpts);
      await core.replaceNamespacedSecret({ name, namespace, body: toSecret(name, namespace, renewed, current.metadata?.resourceVersion) });
      return renewed;
    } catch (e) {
      if (code(e) !== 409) throw e; // another replica wrote first: read its version and use that
    }
  }
  throw new Error(`could not settle Secret ${namespace}/${name} after repeated conflicts`);
}

/** Which kind of webhook configuration a caBundle belongs to. */
export type WebhookConfigurationKind = 'validating' | 'mutating';

/** One reconcile: patch every webhook of the configuration whose caBundle is not `caPem`. True if it patched. */
export async function syncCaBundle(
  kc: KubeConfig,
  caPem: string,
  name = WEBHOOK_CONFIGURATION,
  log: Log = () => {},
  kind: WebhookConfigurationKind = 'validating',
): Promise<boolean> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  let wc: V1ValidatingWebhookConfiguration | V1MutatingWebhookConfiguration;
  try {
    wc = kind === 'mutating' ? await api.readMutatingWebhookConfiguration({ name }) : await api.readValidatingWebhookConfiguration({ name });
  } catch (e) {
    if (code(e) === 404) return false; // not installed (yet); the watch brings us back when it appears
    throw e;
  }
  return patchIfStale(api, kind, wc, b64(caPem), log);
}

async function patchIfStale(
  api: AdmissionregistrationV1Api,
  kind: WebhookConfigurationKind,
  wc: V1ValidatingWebhookConfiguration | V1MutatingWebhookConfiguration,
  bundle: string,
  log: Log,
): Promise<boolean> {
  const stale = (wc.webhooks ?? []).filter((w) => w.clientConfig.caBundle !== bundle);
  if (stale.length === 0) return false;
  // Strategic merge keyed by webhook name: only caBundle changes, whatever else the configuration holds.
  const body = { webhooks: stale.map((w) => ({ name: w.name, clientConfig: { caBundle: bundle } })) };
  const name = wc.metadata!.name!;
  const header = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
  if (kind === 'mutating') await api.patchMutatingWebhookConfiguration({ name, body }, header);
  else await api.patchValidatingWebhookConfiguration({ name, body }, header);
  log(`webhook: set caBundle of ${name} (${stale.map((w) => w.name).join(', ')})`);
  return true;
}

export interface CaBundleController {
  /** Resolves after the first reconcile attempt. */
  ready: Promise<void>;
  /** Point at a new CA (e.g. after the Secret was recreated); reconciles at once. */
  setCa(caPem: string): void;
  stop(): void;
}

/**
 * Keeps `caBundle` current: reconciles at start, on every watch event for the configuration, and every
 * `resyncMs` (default 5 min) in case a watch silently stalls. Errors are logged and retried, never thrown.
 */
export function keepCaBundleCurrent(
  kc: KubeConfig,
  opts: { caPem: string; name?: string; kind?: WebhookConfigurationKind; resyncMs?: number; log?: Log },
): CaBundleController {
  const name = opts.name ?? WEBHOOK_CONFIGURATION;
  const kind = opts.kind ?? 'validating';
  const log = opts.log ?? (() => {});
  let caPem = opts.caPem;
  let stopped = false;
  let abort: AbortController | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();

  // Serialized so two events never race two patches.
  const reconcile = () => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        await syncCaBundle(kc, caPem, name, log, kind);
      } catch (e) {
        log(`webhook: caBundle sync failed (will retry): ${(e as Error).message}`);
      }
    });
    return running;
  };

  const watch = async (): Promise<void> => {
    if (stopped) return;
    const path = `/apis/admissionregistration.k8s.io/v1/${kind}webhookconfigurations`;
    const restart = (err?: unknown) => {
      if (stopped) return;
      if (err) log(`webhook: caBundle watch ended: ${(err as Error).message ?? err}`);
      retry = setTimeout(() => void watch(), err ? 5_000 : 0);
      retry.unref?.();
    };
    try {
      abort = await new Watch(kc).watch(path, { fieldSelector: `metadata.name=${name}` }, () => void reconcile(), restart);
    } catch (e) {
      restart(e);
    }
  };

  const ready = reconcile();
  void watch();
  const resync = setInterval(() => void reconcile(), opts.resyncMs ?? 300_000);
  resync.unref();

  return {
    ready,
    setCa(next: string) {
      caPem = next;
      void reconcile();
    },
    stop() {
      stopped = true;
      clearInterval(resync);
      if (retry) clearTimeout(retry);
      abort?.abort();
    },
  };
}
