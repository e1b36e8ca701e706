// config/ (the kustomize install) against a real API server: it renders, every object is accepted (server-side
// dry run), the webhook covers the eight kinds in every served version, the gateways run hardened in gateway mode,
// and the RBAC grants what the operator needs and nothing broader.
import { expect } from 'chai';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { MESH_KINDS } from '../../src/api/kinds.ts';
import { installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';

const root = resolve(import.meta.dirname, '../..');
const SA = 'system:serviceaccount:weft-system:weft-operator';

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

describe('config/ on a real API server', function () {
  this.timeout(120_000);
  let cp: Cluster;
  let objects: Obj[];

  const kubectl = async (args: string[], input?: string) => {
    const r = await cp.kubectlAsync(args, input);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const canI = async (...args: string[]) => (await cp.kubectlAsync(['auth', 'can-i', '--as', SA, ...args])).stdout.trim();

  before(async () => {
    cp = await sharedCluster();
    await installCrds(cp.kubeConfig()); // can-i resolves subresources through discovery
    const rendered = await kubectl(['kustomize', resolve(root, 'config')]);
    objects = parseAllDocuments(rendered).map((d) => d.toJS() as Obj);
    await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'weft-system' } }));
  });

  it('renders the CRDs, the operator and the webhook, namespaced in weft-system', () => {
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(objects.filter((o) => o.kind === 'CustomResourceDefinition')).to.have.length(MESH_KINDS.length);
    for (const k of ['Namespace/weft-system', 'ServiceAccount/weft-operator', 'ClusterRole/weft-operator', 'ClusterRoleBinding/weft-operator',
      'Role/weft-operator', 'RoleBinding/weft-operator', 'Deployment/weft-operator', 'Service/weft-webhook',
      'ValidatingWebhookConfiguration/weft-validator', 'Deployment/weft-ingressgateway', 'Deployment/weft-egressgateway',
      'ServiceAccount/weft-ingressgateway', 'ServiceAccount/weft-egressgateway', 'Service/weft-ingressgateway', 'Service/weft-egressgateway',
      'PodDisruptionBudget/weft-ingressgateway', 'Deployment/weft-webhook', 'PodDisruptionBudget/weft-webhook']) {
      expect(kinds).to.include(k);
    }
    for (const o of objects.filter((x) => x.metadata.namespace !== undefined)) expect(o.metadata.namespace).to.equal('weft-system');
  });

  it('is accepted by the API server as a whole (server-side dry run)', async () => {
    const out = await kubectl(['apply', '--dry-run=server', '-f', '-'], objects.map((o) => JSON.stringify(o)).join('\n'));
    expect(out).to.include('validatingwebhookconfiguration.admissionregistration.k8s.io/weft-validator');
  });

  it('sends CREATE and UPDATE of every kind in every served version to the webhook, failing closed', () => {
    const vwc = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration') as unknown as V1ValidatingWebhookConfiguration;
    const [hook] = vwc.webhooks!;
    expect(hook!.failurePolicy).to.equal('Fail');
    expect(hook!.sideEffects).to.equal('None');
    expect(hook!.admissionReviewVersions).to.deep.equal(['v1']);
    expect(hook!.clientConfig.service).to.include({ name: 'weft-webhook', namespace: 'weft-system', path: '/validate', port: 443 });
    for (const k of MESH_KINDS) {
      const rule = hook!.rules!.find((r) => r.apiGroups!.includes(k.group) && r.resources!.includes(k.plural));
      expect(rule, k.kind).to.not.equal(undefined);
      expect([...rule!.apiVersions!].sort(), k.kind).to.deep.equal([...k.servedVersions].sort());
      expect([...rule!.operations!].sort()).to.deep.equal(['CREATE', 'UPDATE']);
    }
  });

  it('serves admission from its own Deployment as well as the operator, so new pods do not wait for the operator', () => {
    type Dep = { metadata: { name: string }; spec: { replicas: number; template: { metadata: { labels: Record<string, string> }; spec: { containers: Array<{ args: string[] }> } } } };
    const deps = objects.filter((o) => o.kind === 'Deployment') as unknown as Dep[];
    const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'weft-webhook') as unknown as { spec: { selector: Record<string, string> } };
    const serving = deps.filter((d) => Object.entries(svc.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v)).map((d) => d.metadata.name);
    expect(serving.sort()).to.deep.equal(['weft-operator', 'weft-webhook']);
    const webhook = deps.find((d) => d.metadata.name === 'weft-webhook')!;
    expect(webhook.spec.replicas).to.equal(2);
    expect(webhook.spec.template.spec.containers[0]!.args).to.deep.equal(['webhook']);
  });

  it('runs the operator hardened: non-root, read-only root, probes on the webhook', () => {
    const dep = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'weft-operator') as unknown as {
      spec: { replicas: number; template: { spec: { securityContext: Record<string, unknown>; containers: Array<Record<string, any>> } } };
    };
    expect(dep.spec.replicas).to.equal(2);
    const pod = dep.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).to.equal(true);
    const c = pod.containers[0]!;
    expect(c.securityContext.readOnlyRootFilesystem).to.equal(true);
    expect(c.securityContext.allowPrivilegeEscalation).to.equal(false);
    expect(c.readinessProbe.httpGet).to.include({ path: '/healthz', scheme: 'HTTPS' });
    expect(c.resources.requests).to.have.keys('cpu', 'memory');
  });

  for (const [name, istio] of [['weft-ingressgateway', 'ingressgateway'], ['weft-egressgateway', 'egressgateway']] as const) {
    it(`runs ${name} as a gateway proxy: hardened, its own ServiceAccount, its operator-written volumes optional`, () => {
      const dep = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name) as unknown as {
        spec: { template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: Record<string, any> } };
      };
      const tpl = dep.spec.template;
      expect(tpl.metadata.labels).to.include({ app: name, istio });
      expect(tpl.metadata.annotations).to.deep.equal({ 'weft.dev/proxy-mode': 'gateway' });
      const pod = tpl.spec;
      expect(pod.serviceAccountName).to.equal(name);
      expect(pod.securityContext).to.include({ runAsNonRoot: true, runAsUser: 1337 });
      expect(pod.securityContext.sysctls).to.deep.equal([{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }]);
      const c = pod.containers[0]!;
      expect(c.image).to.equal('weft:0.1.0');
      expect(c.args).to.include.members(['--gateway', '--credentials-dir']);
      expect(c.args.slice(c.args.indexOf('--capture'), c.args.indexOf('--capture') + 2)).to.deep.equal(['--capture', 'none']);
      expect(c.securityContext).to.deep.include({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(c.readinessProbe.httpGet).to.include({ path: '/healthz/ready', port: 15021 });
      expect(pod.volumes).to.deep.equal([
        { name: 'weft-proxy-config', configMap: { name: `weft-proxy-${name}`, optional: true } },
        { name: 'weft-identity', secret: { secretName: `weft-identity-${name}`, optional: true } },
        { name: 'weft-credentials', secret: { secretName: `weft-gateway-credentials-${name}`, optional: true } },
      ]);
      expect(objects.some((o) => o.kind === 'ServiceAccount' && o.metadata.name === name)).to.equal(true);
    });
  }

  it('exposes the ingress gateway as a LoadBalancer on 80 and 443, the egress gateway inside the cluster', () => {
    const svc = (name: string) => objects.find((o) => o.kind === 'Service' && o.metadata.name === name) as unknown as { spec: { type: string; ports: Array<{ name: string; port: number }> } };
    expect(svc('weft-ingressgateway').spec.type).to.equal('LoadBalancer');
    expect(svc('weft-ingressgateway').spec.ports.map((p) => [p.name, p.port])).to.deep.equal([['http2', 80], ['https', 443]]);
    expect(svc('weft-egressgateway').spec.type).to.equal('ClusterIP');
    expect(svc('weft-egressgateway').spec.ports.map((p) => p.port)).to.deep.equal([80, 443]);
  });

  describe('RBAC', () => {
    before(async () => {
      const rbac = objects.filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind));
      await kubectl(['apply', '-f', '-'], rbac.map((o) => JSON.stringify(o)).join('\n'));
    });

    it('lets the operator read the mesh and write only its status', async () => {
      for (const k of MESH_KINDS) {
        const r = `${k.plural}.${k.group}`;
        expect(await canI('watch', r, '-A'), r).to.equal('yes');
        expect(await canI('update', r, '-n', 'default'), r).to.equal('no');
        expect(await canI('patch', r, '--subresource=status', '-n', 'default'), r).to.equal('yes');
      }
      for (const r of ['services', 'pods', 'namespaces', 'endpointslices.discovery.k8s.io']) expect(await canI('list', r, '-A'), r).to.equal('yes');
      expect(await canI('create', 'events', '-n', 'default')).to.equal('yes');
      expect(await canI('delete', 'pods', '-n', 'default')).to.equal('no');
    });

    it('lets the operator distribute proxy config: owners read, ConfigMaps written, pods annotated', async () => {
      for (const r of ['replicasets.apps', 'deployments.apps', 'statefulsets.apps', 'daemonsets.apps', 'jobs.batch', 'cronjobs.batch']) {
        expect(await canI('watch', r, '-A'), r).to.equal('yes');
        expect(await canI('update', r, '-n', 'default'), r).to.equal('no');
      }
      for (const verb of ['watch', 'create', 'patch', 'delete']) expect(await canI(verb, 'configmaps', '-n', 'default'), verb).to.equal('yes');
      expect(await canI('patch', 'pods', '-n', 'default')).to.equal('yes');
      expect(await canI('update', 'pods', '-n', 'default')).to.equal('no');
      expect(await canI('create', 'pods', '-n', 'default')).to.equal('no');
    });

    it('lets the operator write workload identity Secrets anywhere, but never delete or patch Secrets', async () => {
      for (const verb of ['get', 'watch', 'create', 'update']) expect(await canI(verb, 'secrets', '-n', 'default'), verb).to.equal('yes');
      for (const verb of ['delete', 'patch', 'deletecollection']) expect(await canI(verb, 'secrets', '-n', 'default'), verb).to.equal('no');
      expect(await canI('watch', 'serviceaccounts', '-A')).to.equal('yes');
      expect(await canI('update', 'serviceaccounts', '-n', 'default')).to.equal('no');
    });

    it('lets the operator read Secrets for gateway credentials in weft-system only, and write only the gateways\' credentials', async () => {
      for (const verb of ['get', 'list', 'watch']) expect(await canI(verb, 'secrets', '-n', 'weft-system'), verb).to.equal('yes');
      for (const g of ['weft-ingressgateway', 'weft-egressgateway']) expect(await canI('update', `secrets/weft-gateway-credentials-${g}`, '-n', 'weft-system'), g).to.equal('yes');
      expect(await canI('delete', 'secrets/weft-gateway-credentials-weft-ingressgateway', '-n', 'weft-system')).to.equal('no');
      expect(await canI('patch', 'secrets/weft-gateway-credentials-weft-ingressgateway', '-n', 'weft-system')).to.equal('no');
    });

    it('limits secrets, leases and webhook configurations to weft\'s own', async () => {
      expect(await canI('create', 'secrets', '-n', 'weft-system')).to.equal('yes');
      expect(await canI('update', 'secrets/weft-webhook-tls', '-n', 'weft-system')).to.equal('yes');
      expect(await canI('patch', 'secrets/other', '-n', 'weft-system')).to.equal('no');
      expect(await canI('delete', 'secrets/weft-webhook-tls', '-n', 'weft-system')).to.equal('no');
      expect(await canI('update', 'leases.coordination.k8s.io/weft-operator', '-n', 'weft-system')).to.equal('yes');
      expect(await canI('update', 'leases.coordination.k8s.io/weft-operator', '-n', 'default')).to.equal('no');
      expect(await canI('patch', 'validatingwebhookconfigurations/weft-validator')).to.equal('yes');
      expect(await canI('patch', 'validatingwebhookconfigurations/someone-else')).to.equal('no');
      expect(await canI('create', 'validatingwebhookconfigurations')).to.equal('no');
    });
  });
});
