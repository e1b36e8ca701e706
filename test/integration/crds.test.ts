// crds/ against a real kube-apiserver: the CRDs install with their short names and printer columns, every
// valid test case is accepted and every invalid one refused with its expected message — by the structural
// schema, a CEL rule, or weft's validating webhook (registered from config/ and served in this process).
import { expect } from 'chai';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { MESH_KINDS } from '../../src/api/kinds.ts';
import { startWebhookServer, type WebhookServer } from '../../src/webhooks/server.ts';
import { createNamespace, deleteNamespace, installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';
import { testdataCases } from '../support/testdata.ts';
import { registerWebhook, unregisterWebhook, waitForWebhook } from '../support/webhook.ts';

const WEBHOOK = `weft-validator-crds-${process.pid}`;
const label = { 'test.weft.dev/suite': 'crds' };

function rejection(e: unknown): string {
  const body = (e as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body;
    }
  }
  return String((body as { message?: string })?.message ?? e);
}

describe('CRDs on a real API server', function () {
  this.timeout(120_000);
  let cp: Cluster;
  let ns: string;
  let webhook: WebhookServer;

  before(async () => {
    cp = await sharedCluster();
    const kc = cp.kubeConfig();
    await installCrds(kc);
    ns = await createNamespace(kc, 'crds', label);
    webhook = await startWebhookServer({ port: 0, host: '127.0.0.1' });
    await registerWebhook(kc, { name: WEBHOOK, url: `https://127.0.0.1:${webhook.port}/validate`, caPem: webhook.caPem, namespaceLabel: label });
    await waitForWebhook(kc, ns);
  });

  after(async () => {
    if (cp) {
      await unregisterWebhook(cp.kubeConfig(), WEBHOOK);
      // The valid cases (ServiceEntries exported everywhere, policies…) must be gone before the next file runs an operator.
      await deleteNamespace(cp.kubeConfig(), ns);
    }
    await webhook?.stop();
  });

  it('serves every kind under its short name with Istio-like printer columns', () => {
    for (const k of MESH_KINDS) {
      const r = cp.kubectlResult(['get', k.shortNames[0]!, '-n', ns]);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr, k.kind).to.match(/No resources found/);
    }
    const columns = (plural: string) =>
      cp.kubectl(['get', 'crd', `${plural}.networking.istio.io`, '-o', 'jsonpath={.spec.versions[0].additionalPrinterColumns[*].name}']);
    expect(columns('virtualservices')).to.equal('Gateways Hosts Age');
    expect(columns('destinationrules')).to.equal('Host Age');
    expect(columns('serviceentries')).to.equal('Hosts Location Resolution Age');
    const resources = cp.kubectl(['api-resources', '--categories=istio-io', '-o', 'name']).trim().split('\n').sort();
    expect(resources).to.deep.equal(MESH_KINDS.map((k) => `${k.plural}.${k.group}`).sort());
  });

  it('keeps every enum and CEL rule of crds/ on the installed CRDs', () => {
    for (const k of MESH_KINDS) {
      const json = cp.kubectl(['get', 'crd', `${k.plural}.${k.group}`, '-o', 'json']);
      expect(json, k.kind).to.include('"enum"');
    }
    const vs = cp.kubectl(['get', 'crd', 'virtualservices.networking.istio.io', '-o', 'json']);
    expect(vs).to.include('x-kubernetes-validations');
  });

  const cases = testdataCases();
  it('has many test cases for each of the eight kinds', () => {
    for (const k of MESH_KINDS) {
      const mine = cases.filter((c) => c.doc.kind === k.kind);
      expect(mine.filter((c) => c.valid).length, `${k.kind} valid cases`).to.be.at.least(8);
      expect(mine.filter((c) => !c.valid).length, `${k.kind} invalid cases`).to.be.at.least(8);
    }
  });

  for (const c of cases) {
    const title = `${c.valid ? 'accepts' : 'refuses'} ${c.file}#${c.index} ${c.doc.metadata.name}`;
    it(title, async () => {
      const info = MESH_KINDS.find((k) => k.kind === c.doc.kind);
      expect(info, `kind ${c.doc.kind}`).to.not.equal(undefined);
      const [group, version] = c.doc.apiVersion.split('/') as [string, string];
      const api = cp.kubeConfig().makeApiClient(CustomObjectsApi);
      const create = () =>
        api.createNamespacedCustomObject({ group, version, namespace: ns, plural: info!.plural, body: c.doc, fieldValidation: 'Strict' });
      if (c.valid) {
        await create();
        return;
      }
      expect(c.expectedError, 'invalid case must state test.weft.dev/expected-error').to.be.a('string');
      let message: string | undefined;
      try {
        await create();
      } catch (e) {
        message = rejection(e);
      }
      expect(message, 'the API server accepted an invalid resource').to.be.a('string');
      expect(message).to.include(c.expectedError);
    });
  }
});
