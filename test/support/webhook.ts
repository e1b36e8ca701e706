// Registers weft's validating webhook with a local API server: the rules come from the shipped manifest in
// config/, the endpoint is a URL on loopback (no Service routing without a cluster network), scoped to the
// namespaces a test labels so parallel suites don't see each other's webhook.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AdmissionregistrationV1Api, CustomObjectsApi, type KubeConfig, type V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

const configDir = resolve(import.meta.dirname, '../../config');

export function shippedValidatingWebhook(): V1ValidatingWebhookConfiguration {
  for (const f of readdirSync(configDir).filter((x) => x.endsWith('.yaml'))) {
    for (const d of parseAllDocuments(readFileSync(join(configDir, f), 'utf8'))) {
      const o = d.toJS() as V1ValidatingWebhookConfiguration | null;
      if (o?.kind === 'ValidatingWebhookConfiguration') return o;
    }
  }
  throw new Error('config/ has no ValidatingWebhookConfiguration');
}

export async function registerWebhook(
  kc: KubeConfig,
  o: { name: string; url: string; caPem: string; namespaceLabel: Record<string, string> },
): Promise<void> {
  const vwc = shippedValidatingWebhook();
  vwc.metadata = { name: o.name };
  vwc.webhooks = (vwc.webhooks ?? []).map((w) => ({
    ...w,
    clientConfig: { url: o.url, caBundle: Buffer.from(o.caPem).toString('base64') },
    namespaceSelector: { matchLabels: o.namespaceLabel },
  }));
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  await api.deleteValidatingWebhookConfiguration({ name: o.name }).catch(() => undefined);
  await api.createValidatingWebhookConfiguration({ body: vwc });
}

export async function unregisterWebhook(kc: KubeConfig, name: string): Promise<void> {
  await kc.makeApiClient(AdmissionregistrationV1Api).deleteValidatingWebhookConfiguration({ name }).catch(() => undefined);
}

/**
 * The API server picks up webhook configurations asynchronously: wait until a resource that only the webhook
 * refuses (a regex RE2 cannot compile) is refused in `namespace`.
 */
export async function waitForWebhook(kc: KubeConfig, namespace: string): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const body = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'webhook-probe' },
    spec: { hosts: ['probe'], http: [{ match: [{ uri: { regex: '(?<=x)y' } }], route: [{ destination: { host: 'a' } }] }] },
  };
  for (let i = 0; i < 200; i++) {
    try {
      await api.createNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace, plural: 'virtualservices', body, dryRun: 'All' });
    } catch (e) {
      if (String((e as { body?: unknown }).body ?? e).includes('admission webhook')) return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the validating webhook never became active');
}
