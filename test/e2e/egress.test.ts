// Calls out of the mesh on the local cluster, to hosts "outside" it (servers in the node's network namespace on
// addresses no pod has, resolved by name as public DNS would): TLS origination by a sidecar for a ServiceEntry
// host (SNI sent, the server's certificate and SAN checked against a CA the sidecar mounts), the egress gateway
// pattern, and REGISTRY_ONLY refusing a host no ServiceEntry lists.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import type { LocalMesh } from '../../hack/local-cluster/mesh.ts';
import { waitFor } from '../../hack/local-cluster/processes.ts';
import { createCa, issueLeaf } from '../../src/pki/certs.ts';
import { apply, eventuallyBatch, fetchFrom, readyPods, sharedMesh } from '../support/e2e-mesh.ts';
import { localTarget, type MeshTarget } from '../support/e2e-target.ts';

const NS = 'e2e-egress';
const OUTSIDE = { ip: '203.0.113.20', host: 'api.outside.test' };
const UNLISTED = { ip: '203.0.113.21', host: 'unlisted.outside.test' };
const VIA_GATEWAY = { ip: '203.0.113.22', host: 'gw.outside.test' };
const b64 = (s: string) => Buffer.from(s).toString('base64');

function manifests(caPem: string): string {
  return `
apiVersion: v1
kind: Namespace
metadata: {name: ${NS}, labels: {weft-injection: enabled}}
---
apiVersion: v1
kind: Secret
metadata: {name: outside-ca, namespace: ${NS}}
data: {ca.crt: ${b64(caPem)}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: caller, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: caller}}
  template:
    metadata:
      labels: {app: caller}
      annotations:
        # Istio's way to give the sidecar a CA for TLS origination.
        sidecar.istio.io/userVolume: '{"outside-ca":{"secret":{"secretName":"outside-ca"}}}'
        sidecar.istio.io/userVolumeMount: '{"outside-ca":{"mountPath":"/etc/outside-ca","readOnly":true}}'
    spec:
      terminationGracePeriodSeconds: 2
      containers: [{name: client, image: 'weft-examples/client:v1'}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: outside-api, namespace: ${NS}}
spec:
  hosts: [${OUTSIDE.host}]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 443}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: outside-api, namespace: ${NS}}
spec:
  host: ${OUTSIDE.host}
  trafficPolicy:
    tls: {mode: SIMPLE, sni: ${OUTSIDE.host}, subjectAltNames: [${OUTSIDE.host}], caCertificates: /etc/outside-ca/ca.crt}
`;
}

// Local tier only: the hosts outside the cluster are the local node's (a real cluster's would be real hosts).
describe('e2e [local]: calls out of the mesh', function () {
  this.timeout(180_000);
  let mesh: LocalMesh;
  let t: MeshTarget;
  let caller: string;
  const servers: ChildProcess[] = [];

  before(async function () {
    const m = sharedMesh();
    if ('skip' in m) return this.skip();
    mesh = await m;
    t = localTarget(mesh);
    const ca = await createCa('weft e2e outside CA');
    const leaf = await issueLeaf(ca, { commonName: OUTSIDE.host, dnsNames: [OUTSIDE.host], server: true });
    const certFile = join(mesh.dir, 'outside.crt');
    const keyFile = join(mesh.dir, 'outside.key');
    writeFileSync(certFile, leaf.certPem);
    writeFileSync(keyFile, leaf.keyPem);
    mesh.node.addExternalHost(OUTSIDE.ip, [OUTSIDE.host]);
    mesh.node.addExternalHost(UNLISTED.ip, [UNLISTED.host]);
    mesh.node.addExternalHost(VIA_GATEWAY.ip, [VIA_GATEWAY.host]);
    // One TLS server for the listed host (its own certificate), one plain server for the unlisted one.
    servers.push(mesh.node.spawnOutside([process.execPath, 'examples/apps/httpbin.ts'], join(mesh.dir, 'outside-tls.log'),
      { PORT: '443', APP_VERSION: 'outside-tls', TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile }));
    servers.push(mesh.node.spawnOutside([process.execPath, 'examples/apps/httpbin.ts'], join(mesh.dir, 'outside-plain.log'),
      { PORT: '8080', APP_VERSION: 'unlisted' }));
    // The unlisted server listens on every address of the node namespace, so it also answers for VIA_GATEWAY.
    await apply(t, manifests(ca.certPem));
    caller = (await readyPods(t, NS, 'app=caller', 1))[0]!.name;
    await waitFor('the outside servers', async () =>
      (await mesh.node.agent.tcp({ host: OUTSIDE.ip, port: 443, timeoutMs: 500 })).connected &&
      (await mesh.node.agent.tcp({ host: UNLISTED.ip, port: 8080, timeoutMs: 500 })).connected, 15_000);
  });

  after(() => {
    for (const s of servers) s.kill();
  });

  it('originates TLS for a ServiceEntry host: plain HTTP from the app, SNI and a checked certificate on the wire', async () => {
    let r = await fetchFrom(t, NS, caller, `http://${OUTSIDE.host}/hello`);
    await eventuallyBatch('the ServiceEntry reaches the caller', async () => {
      r = await fetchFrom(t, NS, caller, `http://${OUTSIDE.host}/hello`);
      return r.results[0]?.status === 200;
    });
    // The server only speaks TLS: an answer means the sidecar originated it.
    expect(r.results[0]!.body).to.include({ service: 'httpbin', version: 'outside-tls', path: '/hello' });
    // The certificate is checked: the same server under a DestinationRule expecting another name is refused.
    const dr = (sans: string) => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: outside-api, namespace: ${NS}}\n` +
      `spec: {host: ${OUTSIDE.host}, trafficPolicy: {tls: {mode: SIMPLE, sni: ${OUTSIDE.host}, subjectAltNames: [${sans}], caCertificates: /etc/outside-ca/ca.crt}}}\n`;
    await apply(t, dr('someone-else.outside.test'));
    try {
      await eventuallyBatch('the SAN check refuses the server', async () => (await fetchFrom(t, NS, caller, `http://${OUTSIDE.host}/hello`)).results[0]!.status === 503);
    } finally {
      await apply(t, dr(OUTSIDE.host));
    }
    await eventuallyBatch('the right SAN is served again', async () => (await fetchFrom(t, NS, caller, `http://${OUTSIDE.host}/hello`)).results[0]!.status === 200);
  });

  it('ALLOW_ANY passes an unlisted host through; REGISTRY_ONLY refuses it and still serves listed hosts', async () => {
    const unlisted = `http://${UNLISTED.host}:8080/x`;
    expect((await fetchFrom(t, NS, caller, unlisted)).results[0]!.status).to.equal(200);
    await mesh.operator.restart(['--outbound-traffic-policy=REGISTRY_ONLY']);
    try {
      await eventuallyBatch('REGISTRY_ONLY reaches the caller', async () => (await fetchFrom(t, NS, caller, unlisted)).results[0]!.status !== 200, 60_000);
      const refused = (await fetchFrom(t, NS, caller, unlisted)).results[0]!;
      expect(refused.status ?? 0, JSON.stringify(refused)).to.not.equal(200);
      expect((await fetchFrom(t, NS, caller, `http://${OUTSIDE.host}/still`)).results[0]!.status).to.equal(200);
    } finally {
      await mesh.operator.restart([]);
      await eventuallyBatch('ALLOW_ANY again', async () => (await fetchFrom(t, NS, caller, unlisted)).results[0]!.status === 200, 60_000);
    }
  });

  it('routes a ServiceEntry host through the egress gateway when a VirtualService says so', async () => {
    await apply(t, egressGatewayRoute());
    const gateways = await readyPods(t, 'weft-system', 'istio=egressgateway', 1);
    const url = `http://${VIA_GATEWAY.host}/through`;
    await eventuallyBatch('the route through the egress gateway', async () => (await fetchFrom(t, NS, caller, url)).results[0]?.status === 200);
    const r = await fetchFrom(t, NS, caller, url, { n: 5 });
    expect(r.counts).to.deep.equal({ 200: 5 });
    // The gateway's own metrics count the requests it forwarded to the outside host.
    const metrics = await mesh.node.agent.http({ url: `http://${gateways[0]!.ip}:15090/stats/prometheus`, timeoutMs: 3000 });
    const forwarded = metrics.body.split('\n').filter((l) => l.startsWith('istio_requests_total') && l.includes(`destination_service="${VIA_GATEWAY.host}"`));
    expect(forwarded.reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)).to.be.at.least(5);
  });
});

function egressGatewayRoute(): string {
  return `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: via-gateway, namespace: ${NS}}
spec:
  hosts: [${VIA_GATEWAY.host}]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: egress, namespace: weft-system}
spec:
  selector: {istio: egressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [${VIA_GATEWAY.host}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: via-egress-gateway, namespace: ${NS}}
spec:
  hosts: [${VIA_GATEWAY.host}]
  gateways: [weft-system/egress, mesh]
  http:
  - match: [{gateways: [mesh], port: 80}]
    route: [{destination: {host: weft-egressgateway.weft-system.svc.cluster.local, port: {number: 80}}}]
  - match: [{gateways: [weft-system/egress], port: 80}]
    route: [{destination: {host: ${VIA_GATEWAY.host}, port: {number: 80}}}]
`;
}
