// The webhook as the operator runs it. In: a KubeConfig (via the operator's WebhookHook) and options. Out: the
// HTTPS admission server (/validate, and /inject for sidecar injection) serving the certificate kept in the Secret
// `weft-webhook-tls` (issued by the mesh CA), the caBundles of `weft-validator` and `weft-injector` kept on the mesh
// trust bundle, and an hourly check that renews the certificate in place before it expires or once the mesh CA
// changed (plug-in CA, root rotation), updating the caBundles with it.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Labels } from '../model/types.ts';
import type { Logger } from '../controllers/log.ts';
import type { WebhookHook } from '../controllers/operator.ts';
import { ensureWebhookCertSecret, keepCaBundleCurrent } from './cabundle.ts';
import { WEBHOOK_CONFIGURATION, WEBHOOK_NAMESPACE, WEBHOOK_SERVICE } from './certs.ts';
import type { WebhookCerts } from './certs.ts';
import type { InjectOptions } from './inject-options.ts';
import { startWebhookServer } from './server.ts';

/** The MutatingWebhookConfiguration of sidecar injection (config/webhook.yaml). */
export const INJECTOR_CONFIGURATION = 'weft-injector';

export interface WebhookRunOptions {
  port?: number;
  host?: string;
  /** Where the Secret lives and the Service points (default weft-system). */
  namespace?: string;
  service?: string;
  /** The ValidatingWebhookConfiguration whose caBundle is kept current (default weft-validator). */
  configurationName?: string;
  /** The MutatingWebhookConfiguration whose caBundle is kept current (default weft-injector). */
  injectorConfigurationName?: string;
  /** Sidecar injection settings; the image defaults to $WEFT_PROXY_IMAGE, then the weft image of this release. */
  inject?: InjectOptions;
  rootNamespace?: string;
  /** How often the certificate's age is checked (default 1 h). */
  renewCheckMs?: number;
}

export interface RunningWebhook {
  port: number;
  caPem: string;
  stop(): Promise<void>;
}

export async function runWebhook(kc: KubeConfig, log: Logger, opts: WebhookRunOptions = {}): Promise<RunningWebhook> {
  const secretOpts = { namespace: opts.namespace ?? WEBHOOK_NAMESPACE, service: opts.service ?? WEBHOOK_SERVICE };
  let certs = await withRetries(() => ensureWebhookCertSecret(kc, secretOpts), log);
  const server = await startWebhookServer({
    port: opts.port ?? 9443,
    host: opts.host,
    tls: { certPem: certs.certPem, keyPem: certs.keyPem, caPem: certs.caPem },
    validate: { rootNamespace: opts.rootNamespace },
    inject: { options: injectOptions(opts.inject), namespaceLabels: namespaceLabelsFrom(kc) },
    log: (line) => log.info(line),
  });
  const caBundles = [
    keepCaBundleCurrent(kc, { caPem: certs.caPem, name: opts.configurationName ?? WEBHOOK_CONFIGURATION, log: (line) => log.info(line) }),
    keepCaBundleCurrent(kc, { caPem: certs.caPem, name: opts.injectorConfigurationName ?? INJECTOR_CONFIGURATION, kind: 'mutating', log: (line) => log.info(line) }),
  ];

  const renew = setInterval(() => {
    ensureWebhookCertSecret(kc, secretOpts).then(
      (next) => {
        if (next.certPem !== certs.certPem) {
          server.setTls({ certPem: next.certPem, keyPem: next.keyPem, caPem: next.caPem });
          log.info('serving a renewed webhook certificate');
        }
        if (next.caPem !== certs.caPem) for (const c of caBundles) c.setCa(next.caPem);
        certs = next;
      },
      (err: unknown) => log.warn('webhook certificate check failed, will retry', { error: err }),
    );
  }, opts.renewCheckMs ?? 3_600_000);
  renew.unref();

  return {
    port: server.port,
    get caPem() {
      return certs.caPem;
    },
    async stop() {
      clearInterval(renew);
      for (const c of caBundles) c.stop();
      await server.stop();
    },
  };
}

function injectOptions(opts: InjectOptions | undefined): InjectOptions {
  const image = opts?.image ?? process.env.WEFT_PROXY_IMAGE;
  return { ...opts, ...(image ? { image } : {}) };
}

/**
 * The API server sends the pod without its namespace's labels. A GET per pod creation is cheap next to what the
 * kubelet does for the same pod; labels are read fresh so a just-labelled namespace injects at once.
 */
export function namespaceLabelsFrom(kc: KubeConfig): (namespace: string) => Promise<Labels | undefined> {
  const core = kc.makeApiClient(CoreV1Api);
  return async (name) => {
    try {
      return (await core.readNamespace({ name })).metadata?.labels ?? {};
    } catch (e) {
      if ((e as { code?: number }).code === 404) return undefined;
      throw e;
    }
  };
}

/** The operator's plug for the webhook: `startOperator({ ..., webhook: webhookHook({ port: 9443 }) })`. */
export function webhookHook(opts: WebhookRunOptions = {}): WebhookHook & { started?: RunningWebhook } {
  const hook: WebhookHook & { started?: RunningWebhook } = {
    async start({ kubeConfig, log }) {
      hook.started = await runWebhook(kubeConfig, log, opts);
      return hook.started;
    },
  };
  return hook;
}

/** The API server may still be coming up when the operator starts; a short patience beats a crash loop. */
async function withRetries(fn: () => Promise<WebhookCerts>, log: Logger, attempts = 6): Promise<WebhookCerts> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      log.warn('could not get the webhook certificate, retrying', { error: err, attempt: i });
      await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** i, 10_000)));
    }
  }
}
