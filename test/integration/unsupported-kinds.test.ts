// Istio kinds weft does not support, on a real API server: once their CRDs are installed (here minimal Telemetry
// and EnvoyFilter CRDs), the operator — as its ServiceAccount, with the RBAC of config/rbac.yaml — records a
// Warning event NotSupported on each such object, created before or after it started, and a CRD installed later
// is found by the next discovery.
import { expect } from 'chai';
import { join, resolve } from 'node:path';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, type CoreV1Event, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import type { Operator } from '../../src/controllers/operator.ts';
import { NOT_SUPPORTED_REASON } from '../../src/controllers/unsupported-kinds.ts';
import { createNamespace, installCrds, serviceAccountKubeConfig, sharedCluster, type Cluster } from '../support/cluster.ts';
import { retry, testOperator, waitFor } from './operator-support.ts';

const config = resolve(import.meta.dirname, '../../config');

function crd(group: string, kind: string, plural: string, version: string): V1CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      // No categories: the istio-io category lists weft's own kinds only (crds.test.ts).
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{ name: version, served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } } }],
    },
  };
}

const TELEMETRY = crd('telemetry.istio.io', 'Telemetry', 'telemetries', 'v1');
const ENVOY_FILTER = crd('networking.istio.io', 'EnvoyFilter', 'envoyfilters', 'v1alpha3');

async function install(kc: KubeConfig, body: V1CustomResourceDefinition): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  await api.createCustomResourceDefinition({ body }).catch((e: { code?: number }) => {
    if (e.code !== 409) throw e;
  });
  await waitFor(`CRD ${body.metadata!.name} Established`, () => api.readCustomResourceDefinition({ name: body.metadata!.name! }),
    (c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') === true, 30_000);
}

describe('operator: Istio kinds weft does not support', function () {
  this.timeout(120_000);
  let cp: Cluster;
  let kc: KubeConfig;
  let ns: string;
  let op: Operator | undefined;

  const create = (group: string, version: string, plural: string, kind: string, name: string) =>
    kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group, version, namespace: ns, plural,
      body: { apiVersion: `${group}/${version}`, kind, metadata: { name }, spec: {} },
    });

  const notSupported = async (): Promise<CoreV1Event[]> =>
    (await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns })).items.filter((e) => e.reason === NOT_SUPPORTED_REASON);

  before(async () => {
    cp = await sharedCluster();
    kc = cp.kubeConfig();
    await installCrds(kc);
    cp.kubectl(['apply', '-f', join(config, 'namespace.yaml'), '-f', join(config, 'rbac.yaml')]);
    ns = await createNamespace(kc, 'unsupported');
    await install(kc, TELEMETRY);
  });

  after(async () => {
    await op?.stop();
    if (!kc) return;
    await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
    const api = kc.makeApiClient(ApiextensionsV1Api);
    for (const c of [TELEMETRY, ENVOY_FILTER]) await api.deleteCustomResourceDefinition({ name: c.metadata!.name! }).catch(() => undefined);
  });

  it('records a Warning event NotSupported on each object, before and after start, and on CRDs installed later', async () => {
    await create('telemetry.istio.io', 'v1', 'telemetries', 'Telemetry', 'before-start');
    const operatorKc = await retry(() => serviceAccountKubeConfig(kc, 'weft-system', 'weft-operator'), 30_000);
    op = await testOperator(operatorKc, { distribution: false, unsupportedKinds: { discoveryPeriodMs: 300 } });
    await op.waitForSync();
    await create('telemetry.istio.io', 'v1', 'telemetries', 'Telemetry', 'after-start');
    await install(kc, ENVOY_FILTER);
    await create('networking.istio.io', 'v1alpha3', 'envoyfilters', 'EnvoyFilter', 'filter');

    const names = (events: CoreV1Event[]) => events.map((e) => `${e.involvedObject.kind}/${e.involvedObject.name}`).sort();
    const events = await waitFor('NotSupported events', notSupported, (evs) => names(evs).length >= 3, 60_000);
    expect(names(events)).to.deep.equal(['EnvoyFilter/filter', 'Telemetry/after-start', 'Telemetry/before-start']);
    for (const e of events) {
      expect(e.type).to.equal('Warning');
      expect(e.message).to.match(/weft does not support (Telemetry|EnvoyFilter) .*ignores this object/);
      expect(e.involvedObject.uid).to.be.a('string');
      expect(e.involvedObject.namespace).to.equal(ns);
    }
    // One event per object: further discoveries do not repeat it.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(names(await notSupported())).to.deep.equal(names(events));
  });
});
