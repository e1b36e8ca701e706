// Delivering gateway credentials with fake Secret caches and a recording writer: one write per content change
// (the cache showing our write means nothing to do), nothing at all where no credentials are needed or Secrets are
// not read, and which workloads a Secret change concerns (our own write's echo excluded).
import { expect } from 'chai';
import type { KubernetesObject } from '@kubernetes/client-node';
import { CredentialsDelivery, credentialsSecretBody, type CredentialsWriter } from '../../src/controllers/gateway/delivery.ts';
import { GatewaySecrets, type SecretCache } from '../../src/controllers/gateway/secrets.ts';
import { silentLogger } from '../../src/controllers/log.ts';
import type { Workload } from '../../src/model/types.ts';
import type { Gateway } from '../../src/api/index.ts';

type Secret = KubernetesObject & { data?: Record<string, string> };

class FakeSecrets implements SecretCache {
  readonly items = new Map<string, Secret>();
  get(ns: string | undefined, name: string): Secret | undefined {
    return this.items.get(`${ns}/${name}`);
  }
  onChange(): () => void {
    return () => {};
  }
  put(s: Secret): void {
    this.items.set(`${s.metadata!.namespace}/${s.metadata!.name}`, s);
  }
}

const workload = (ns = 'weft-system'): Workload => ({
  kind: 'Deployment', name: 'edge', namespace: ns, apiVersion: 'apps/v1', uid: 'uid-edge', labels: { istio: 'edge' },
  serviceAccount: 'edge', pods: [], injected: true, mode: 'gateway',
});
const gateways = [{ metadata: { name: 'g', namespace: 'apps' }, spec: { selector: { istio: 'edge' }, servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['*'], tls: { mode: 'SIMPLE', credentialName: 'cert' } }] } }] as unknown as Gateway[];
const cert = (crt: string): Secret => ({ metadata: { name: 'cert', namespace: 'weft-system' }, data: { 'tls.crt': crt, 'tls.key': 'k' } });

describe('gateway credentials delivery', () => {
  let cache: FakeSecrets;
  let writes: Array<Record<string, unknown>>;
  let delivery: CredentialsDelivery;

  beforeEach(() => {
    cache = new FakeSecrets();
    writes = [];
    const writer: CredentialsWriter = {
      apply: async (w, c, resourceVersion) => {
        const body = credentialsSecretBody(w, c) as Secret;
        writes.push({ ...body, resourceVersion });
        cache.put({ ...body, metadata: { ...body.metadata, resourceVersion: String(writes.length) } });
      },
    };
    delivery = new CredentialsDelivery({ secrets: new GatewaySecrets(new Map([['weft-system', cache]])), writer, log: silentLogger });
    cache.put(cert('c1'));
  });

  const deliver = async (w = workload()) => delivery.write('weft-system/edge', w, delivery.plan('weft-system/edge', w, gateways));

  it('writes once per content, owned by the workload, and again when the credential changes', async () => {
    expect(await deliver()).to.deep.equal({ kind: 'written' });
    expect(await deliver()).to.deep.equal({ kind: 'written' });
    expect(writes).to.have.length(1);
    const first = writes[0] as Secret & { resourceVersion?: string };
    expect(first.metadata!.name).to.equal('weft-gateway-credentials-edge');
    expect(first.metadata!.ownerReferences).to.deep.equal([{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'edge', uid: 'uid-edge', controller: false, blockOwnerDeletion: false }]);
    expect(first.data).to.deep.equal({ 'cert.tls.crt': 'c1', 'cert.tls.key': 'k' });
    expect(first.resourceVersion).to.equal(undefined);
    cache.put(cert('c2'));
    expect(delivery.affectedBy('weft-system', 'cert')).to.deep.equal(['weft-system/edge']);
    await deliver();
    expect(writes).to.have.length(2);
    expect((writes[1] as Secret).data!['cert.tls.crt']).to.equal('c2');
    expect((writes[1] as { resourceVersion?: string }).resourceVersion).to.equal('1');
  });

  it('ignores the echo of its own write, not someone else\'s change of the credentials Secret', async () => {
    await deliver();
    expect(delivery.affectedBy('weft-system', 'weft-gateway-credentials-edge')).to.deep.equal([]);
    cache.put({ metadata: { name: 'weft-gateway-credentials-edge', namespace: 'weft-system', annotations: {} }, data: {} });
    expect(delivery.affectedBy('weft-system', 'weft-gateway-credentials-edge')).to.deep.equal(['weft-system/edge']);
    expect(delivery.affectedBy('weft-system', 'unrelated')).to.deep.equal([]);
  });

  it('writes nothing without credentials to deliver, or in a namespace whose Secrets are not read', async () => {
    cache.items.delete('weft-system/cert');
    await deliver();
    expect(writes).to.deep.equal([]);
    const elsewhere = workload('edge-ns');
    const plan = delivery.plan('edge-ns/edge', elsewhere, gateways);
    expect(plan.problems.map((p) => p.secret)).to.deep.equal(['cert']);
    await delivery.write('edge-ns/edge', elsewhere, plan);
    expect(writes).to.deep.equal([]);
  });
});
