// The operator against a real kube-apiserver: the mesh config ConfigMap applied without a restart (every
// workload translated again), an invalid one reported (annotation, Event) with the last valid one kept; the key
// sets of RequestAuthentications fetched from a real HTTP server (ResolvedRefs False JwksFetchFailed while they
// cannot be, refreshed keys reaching the workload's config); and Programmed on policies counting the workloads
// that enforce them.
import { expect } from 'chai';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { MESH_CONFIG_STATUS_ANNOTATION } from '../../src/controllers/mesh/verdict.ts';
import type { Operator } from '../../src/controllers/operator.ts';
import { createNamespace, installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';
import { Workloads, decode } from './distribution-support.ts';
import { Mesh, condition, testOperator, waitFor, waitForStatus, type MeshObject } from './operator-support.ts';

const INJECTED = { 'weft-injection': 'enabled' };

describe('operator: mesh config, fetched keys and policy status on a real API server', function () {
  this.timeout(180_000);
  let cp: Cluster;
  let core: CoreV1Api;
  let mesh: Mesh;
  let wl: Workloads;
  let root: string;
  let ns: string;
  let op: Operator | undefined;
  let jwks: Server;
  let jwksUrl = '';
  let answer: (res: ServerResponse) => void = (res) => {
    res.statusCode = 503;
    res.end('not yet');
  };

  const config = async (): Promise<string> => JSON.stringify(decode((await wl.configMap(ns, 'reviews-v1'))!).config);
  const meshConfigMap = async (): Promise<V1ConfigMap> => core.readNamespacedConfigMap({ namespace: root, name: 'weft' });
  const setMesh = async (text: string): Promise<void> => {
    const body = { metadata: { name: 'weft', namespace: root }, data: { mesh: text } };
    try {
      await core.replaceNamespacedConfigMap({ namespace: root, name: 'weft', body });
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
      await core.createNamespacedConfigMap({ namespace: root, body });
    }
  };

  before(async () => {
    cp = await sharedCluster();
    const kc = cp.kubeConfig();
    await installCrds(kc);
    core = kc.makeApiClient(CoreV1Api);
    mesh = new Mesh(kc);
    wl = new Workloads(kc, (args, input) => cp.kubectlAsync(args, input));
    // A root namespace of its own, so the mesh config here is nobody else's.
    root = await createNamespace(kc, 'mesh-root');
    ns = await createNamespace(kc, 'mesh-app', INJECTED);
    const [pod] = await wl.deployment(ns, 'reviews-v1', { app: 'reviews', version: 'v1' }, ['10.244.9.1']);
    await wl.endpointSlice(ns, 'reviews', [{ ip: '10.244.9.1', pod: pod!.metadata!.name! }]);
    await mesh.createService(ns, 'reviews');
    jwks = createServer((_req, res) => answer(res));
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    op = await testOperator(kc, { rootNamespace: root, jwks: { refreshMs: 1_500, retryBaseMs: 200, retryMaxMs: 1_000, timeoutMs: 2_000 } });
    await op.waitForSync();
    await wl.waitConfigMap(ns, 'reviews-v1');
  });

  after(async () => {
    await op?.stop();
    jwks?.closeAllConnections();
    jwks?.close();
    if (cp) for (const n of [ns, root]) if (n) await core.deleteNamespace({ name: n }).catch(() => undefined);
  });

  it('applies a mesh config change without a restart, and keeps the last valid one when the next is invalid', async () => {
    const blackholes = (c: string): number => c.split('BlackHoleCluster').length - 1;
    const allowAny = { blackholes: blackholes(await config()) };
    await setMesh('outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n');
    await waitFor('REGISTRY_ONLY in the workload config', config, (c) => blackholes(c) > allowAny.blackholes, 30_000);
    const registryOnlyBlackholes = blackholes(await config());
    await waitFor('the Applied verdict', meshConfigMap, (cm) => cm.metadata?.annotations?.[MESH_CONFIG_STATUS_ANNOTATION] === 'Applied');

    await setMesh('outboundTrafficPolicy:\n  mode: NOPE\nfoo: 1\n');
    const cm = await waitFor('the Invalid verdict', meshConfigMap, (c) => c.metadata?.annotations?.[MESH_CONFIG_STATUS_ANNOTATION]?.startsWith('Invalid') === true);
    expect(cm.metadata!.annotations![MESH_CONFIG_STATUS_ANNOTATION]).to.equal(
      'Invalid: outboundTrafficPolicy.mode: must be ALLOW_ANY or REGISTRY_ONLY, not "NOPE"; the operator keeps the last valid mesh config',
    );
    const events = await waitFor(
      'an InvalidMeshConfig Event',
      async () => (await core.listNamespacedEvent({ namespace: root, fieldSelector: 'involvedObject.name=weft' })).items,
      (es) => es.some((e) => e.reason === 'InvalidMeshConfig'),
    );
    expect(events.find((e) => e.reason === 'InvalidMeshConfig')).to.deep.include({ type: 'Warning' });
    // The last valid config stays in force (other files' namespaces may still change the outbound view, so the
    // policy is checked, not the whole config's hash).
    expect(blackholes(await config())).to.equal(registryOnlyBlackholes);

    await setMesh('outboundTrafficPolicy:\n  mode: ALLOW_ANY\n');
    await waitFor('ALLOW_ANY again', config, (c) => blackholes(c) === allowAny.blackholes, 30_000);
    await waitFor('the Applied verdict again', meshConfigMap, (c) => c.metadata?.annotations?.[MESH_CONFIG_STATUS_ANNOTATION] === 'Applied');
  });

  it('says ResolvedRefs False (JwksFetchFailed) while keys cannot be fetched, and inlines refreshed keys in the workload config', async () => {
    await mesh.create('RequestAuthentication', ns, 'jwt', {
      selector: { matchLabels: { app: 'reviews' } },
      jwtRules: [{ issuer: 'https://issuer.example', jwksUri: jwksUrl }],
    });
    const failing = await waitForStatus(mesh, 'RequestAuthentication', ns, 'jwt', (o) => condition(o, 'ResolvedRefs')?.reason === 'JwksFetchFailed');
    expect(condition(failing, 'ResolvedRefs')).to.include({
      status: 'False',
      message: `spec.jwtRules[0].jwksUri: keys could not be fetched from "${jwksUrl}": HTTP 503 from ${jwksUrl}; requests with a token of this issuer are rejected until they are`,
    });

    answer = (res) => res.end(JSON.stringify({ keys: [{ kty: 'RSA', kid: 'weft-it-key-1', n: 'AQAB', e: 'AQAB' }] }));
    await waitForStatus(mesh, 'RequestAuthentication', ns, 'jwt', (o) => condition(o, 'ResolvedRefs')?.status === 'True', 30_000);
    await waitFor('the fetched key in the workload config', config, (c) => c.includes('weft-it-key-1'), 30_000);

    answer = (res) => res.end(JSON.stringify({ keys: [{ kty: 'RSA', kid: 'weft-it-key-2', n: 'AQAB', e: 'AQAB' }] }));
    await waitFor('the refreshed key in the workload config', config, (c) => c.includes('weft-it-key-2') && !c.includes('weft-it-key-1'), 30_000);
    // A failing refresh keeps the keys: nothing changes, status stays True.
    answer = (res) => res.destroy();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await config()).to.include('weft-it-key-2');
    expect(condition(await mesh.get('RequestAuthentication', ns, 'jwt'), 'ResolvedRefs')?.status).to.equal('True');
  });

  it('Programmed says how many selected workloads enforce a policy, and when it selects none or is attached by targetRef', async () => {
    await mesh.create('AuthorizationPolicy', ns, 'allow-reviews', { selector: { matchLabels: { app: 'reviews' } }, rules: [{ from: [{ source: { namespaces: [ns] } }] }] });
    await mesh.create('AuthorizationPolicy', ns, 'nobody', { selector: { matchLabels: { app: 'nothing-here' } }, action: 'DENY', rules: [{}] });
    await mesh.create('AuthorizationPolicy', ns, 'waypoint', { targetRefs: [{ kind: 'Service', group: '', name: 'reviews' }], rules: [{}] });
    const programmed = (o: MeshObject) => condition(o, 'Programmed')?.observedGeneration === o.metadata.generation && condition(o, 'Programmed')?.reason !== 'Pending';

    const enforced = await waitForStatus(mesh, 'AuthorizationPolicy', ns, 'allow-reviews', programmed, 30_000);
    expect(condition(enforced, 'Programmed')).to.include({ status: 'True', reason: 'Programmed', message: 'enforced by 1/1 workloads' });

    const nobody = await waitForStatus(mesh, 'AuthorizationPolicy', ns, 'nobody', programmed, 30_000);
    expect(condition(nobody, 'Programmed')).to.include({ status: 'True', reason: 'NoWorkloads', message: 'enforced by 0/0 workloads: it selects no workload with a sidecar' });
    // IST0127 once: the selector's own check (no pod at all) says more than "none with a sidecar".
    expect(nobody.status!.validationMessages).to.deep.equal([{
      type: { code: 'IST0127', name: 'NoMatchingWorkloadsFound' }, level: 'WARNING', field: 'spec.selector.matchLabels',
      message: 'No matching workloads for this resource with the following labels: app=nothing-here',
    }]);

    const waypoint = await waitForStatus(mesh, 'AuthorizationPolicy', ns, 'waypoint', programmed, 30_000);
    expect(condition(waypoint, 'Programmed')).to.include({ status: 'False', reason: 'NotSupported' });
    expect(waypoint.status!.validationMessages).to.deep.include({
      type: { code: 'WEFT0003', name: 'NotSupported' }, level: 'WARNING', field: 'spec.targetRefs',
      message: 'not enforced by weft: targetRef attaches a policy to waypoints or Gateway API gateways, which weft does not run (use spec.selector)',
    });

    const ra = await waitForStatus(mesh, 'RequestAuthentication', ns, 'jwt', programmed, 30_000);
    expect(condition(ra, 'Programmed')).to.include({ status: 'True', message: 'enforced by 1/1 workloads' });
  });

  it('a CUSTOM policy is ResolvedRefs False until its provider is in the mesh config', async () => {
    await mesh.create('AuthorizationPolicy', ns, 'ext', { selector: { matchLabels: { app: 'reviews' } }, action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] });
    const missing = await waitForStatus(mesh, 'AuthorizationPolicy', ns, 'ext', (o) => condition(o, 'ResolvedRefs')?.status === 'False');
    expect(condition(missing, 'ResolvedRefs')!.message).to.include('extension provider "opa" is not in the mesh config');
    await setMesh('extensionProviders:\n- name: opa\n  envoyExtAuthzHttp:\n    service: reviews.' + ns + '.svc.cluster.local\n    port: 9080\n');
    await waitForStatus(mesh, 'AuthorizationPolicy', ns, 'ext', (o) => condition(o, 'ResolvedRefs')?.status === 'True', 30_000);
  });
});
