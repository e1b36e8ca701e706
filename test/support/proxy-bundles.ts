// Proxy config bundles as the operator writes them, for sidecar tests: real translate() output for a small mesh,
// packed (encoded, versioned, gzipped) like the ConfigMap's `config.pb.gz`, and workload identities from a real CA.
import { packProxyConfig } from '../../src/controllers/proxy-bundle.ts';
import { createRootCa } from '../../src/pki/ca.ts';
import type { MeshCa } from '../../src/pki/ca.ts';
import { spiffeId } from '../../src/pki/spiffe.ts';
import { issueWorkloadCert } from '../../src/pki/workload-cert.ts';
import type { WorkloadCert } from '../../src/pki/workload-cert.ts';
import { translate } from '../../src/translate/index.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { cla, hcm, HTTP_INSPECTOR, listener, proxyConfig, routeConfig, toCluster, vhost } from './envoy-objects.ts';
import { app, namespace, snapshotOf, virtualService } from './mesh-fixtures.ts';
import type { InputPart } from './mesh-fixtures.ts';

/** productpage-v1's config in a bookinfo-like mesh; `more` adds objects (e.g. a VirtualService). */
export function productpageConfig(...more: InputPart[]): ProxyConfig {
  const snap = snapshotOf(
    app('productpage', 'bookinfo', { port: 9080, versions: { v1: ['10.0.1.1'] } }),
    app('reviews', 'bookinfo', { port: 9080, versions: { v1: ['10.0.0.1'], v2: ['10.0.0.2'] } }),
    { namespaces: [namespace('bookinfo', { 'weft-injection': 'enabled' })] },
    ...more,
  );
  const w = snap.workload('bookinfo', 'productpage-v1');
  if (!w) throw new Error('no productpage-v1');
  return translate(w, snap);
}

/** A second, different config of the same workload (a timeout on reviews). */
export function productpageConfigV2(): ProxyConfig {
  return productpageConfig({
    config: { virtualServices: [virtualService('reviews', 'bookinfo', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }], timeout: '3s' }] })] },
  });
}

export function packed(pc: ProxyConfig): { gzipped: Buffer; version: string } {
  const p = packProxyConfig(pc);
  return { gzipped: p.gzipped, version: p.version };
}

let ca: Promise<MeshCa> | undefined;
export const testCa = (): Promise<MeshCa> => (ca ??= createRootCa());

export async function workloadIdentity(sa = 'productpage', ns = 'bookinfo'): Promise<WorkloadCert> {
  return issueWorkloadCert(await testCa(), spiffeId('cluster.local', ns, sa));
}

/** The identity volume's files. */
export const identityFiles = (c: WorkloadCert): Record<string, string> => ({
  'cert-chain.pem': c.certChainPem,
  'key.pem': c.keyPem,
  'root-cert.pem': c.rootCertPem,
});

/** A listener for <svc>:9080 routing everything to a STATIC cluster at the app's loopback address. */
export function loopbackConfig(appPort: number): ProxyConfig {
  const pc = proxyConfig({
    // The HTTP inspector lets the listener see that the stream is HTTP (as translated listeners do).
    listeners: [listener('0.0.0.0_9080', '0.0.0.0', 9080, [{ filters: [hcm('9080')] }],
      { listenerFilters: [{ name: 'envoy.filters.listener.http_inspector', typedConfig: { '@type': HTTP_INSPECTOR } }] })],
    routes: [routeConfig('9080', [vhost('app', ['*'], [toCluster('app')])])],
    clusters: [{ name: 'app', type: 'STATIC', connectTimeout: { seconds: 1 }, loadAssignment: cla('app', [`127.0.0.1:${appPort}`]) }],
  });
  return { ...pc, workload: { kind: 'Deployment', name: 'client-v1', namespace: 'shop', serviceAccount: 'client', labels: { app: 'client', version: 'v1' } } };
}
