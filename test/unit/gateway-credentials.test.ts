// Gateway credentials as the operator gathers them: the credentialNames of the TLS servers of the Gateways that
// select a workload, read in that workload's namespace only, flattened to <X>.tls.crt/<X>.tls.key/<X>.ca.crt;
// the ResolvedRefs findings on a Gateway whose credential Secret is missing where its workloads run; and the
// mesh-wide Gateway findings the distribution publishes for status.
import { expect } from 'chai';
import { buildCredentials, podHash, workloadCredentialRefs, type SecretLookup } from '../../src/controllers/gateway/credentials.ts';
import { gatewayFindings } from '../../src/controllers/distribution/publication.ts';
import { resolveRefs, type MeshView } from '../../src/controllers/refs.ts';
import { deployment, gateway, namespace, snapshotOf } from '../support/mesh-fixtures.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const gw = (name: string, selector: Record<string, string>, servers: unknown[], ns = 'apps') => ({ metadata: { name, namespace: ns }, spec: { selector, servers } });
const https = (credentialName: string, mode = 'SIMPLE', hosts = ['*.example.com']) => ({ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts, tls: { mode, credentialName } });

function lookup(secrets: Record<string, Record<string, string>>): SecretLookup {
  return (name) => secrets[name];
}

describe('gateway credentials', () => {
  const ingress = { istio: 'ingressgateway' };

  it('gathers the credentialNames of the Gateways selecting the workload, merged by name, MUTUAL winning', () => {
    const gateways = [
      gw('a', ingress, [https('shop-cert'), { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }]),
      gw('b', ingress, [https('api-cert', 'MUTUAL'), https('shop-cert', 'MUTUAL')], 'other'),
      gw('c', { istio: 'egressgateway' }, [https('egress-cert')]),
      gw('d', ingress, [{ port: { number: 443, name: 'tls', protocol: 'TLS' }, hosts: ['*'], tls: { mode: 'PASSTHROUGH' } }, https('ignored', 'ISTIO_MUTUAL')]),
      gw('e', ingress, [{ port: { number: 8443, name: 'https-2', protocol: 'HTTPS' }, hosts: ['*'], tls: { mode: 'SIMPLE', credentialNames: ['rsa', 'ecdsa'] } }]),
    ];
    expect(workloadCredentialRefs({ ...ingress, app: 'x' }, gateways)).to.deep.equal([
      { name: 'api-cert', mutual: true },
      { name: 'ecdsa', mutual: false },
      { name: 'rsa', mutual: false },
      { name: 'shop-cert', mutual: true },
    ]);
  });

  it('flattens kubernetes.io/tls and generic Secrets, taking the CA from the Secret or <X>-cacert', () => {
    const c = buildCredentials(
      [{ name: 'tls', mutual: true }, { name: 'generic', mutual: false }, { name: 'split', mutual: true }],
      lookup({
        tls: { 'tls.crt': b64('C1'), 'tls.key': b64('K1'), 'ca.crt': b64('CA1') },
        generic: { cert: b64('C2'), key: b64('K2') },
        split: { 'tls.crt': b64('C3'), 'tls.key': b64('K3') },
        'split-cacert': { cacert: b64('CA3') },
      }),
      'weft-system',
    );
    expect(c.problems).to.deep.equal([]);
    expect(c.data).to.deep.equal({
      'generic.tls.crt': b64('C2'), 'generic.tls.key': b64('K2'),
      'split.ca.crt': b64('CA3'), 'split.tls.crt': b64('C3'), 'split.tls.key': b64('K3'),
      'tls.ca.crt': b64('CA1'), 'tls.tls.crt': b64('C1'), 'tls.tls.key': b64('K1'),
    });
    expect(Object.keys(c.data)).to.deep.equal(Object.keys(c.data).sort());
    expect(c.hash).to.match(/^[0-9a-f]{64}$/);
  });

  it('reports a missing Secret, one without a key pair, a MUTUAL one without a CA; delivers the rest', () => {
    const c = buildCredentials(
      [{ name: 'gone', mutual: false }, { name: 'half', mutual: false }, { name: 'noca', mutual: true }, { name: 'ok', mutual: false }],
      lookup({ half: { 'tls.crt': b64('C') }, noca: { 'tls.crt': b64('C'), 'tls.key': b64('K') }, ok: { 'tls.crt': b64('C'), 'tls.key': b64('K') } }),
      'weft-system',
    );
    expect(c.problems.map((p) => p.secret)).to.deep.equal(['gone', 'half', 'noca-cacert']);
    expect(c.problems[0]!.message).to.equal('credential Secret "weft-system/gone" not found (it must be in the gateway workload\'s namespace)');
    expect(Object.keys(c.data)).to.deep.equal(['ok.tls.crt', 'ok.tls.key']);
  });

  it('hashes content: a rotated certificate changes the credentials hash and so the pods\' hash', () => {
    const one = buildCredentials([{ name: 'x', mutual: false }], lookup({ x: { 'tls.crt': b64('C1'), 'tls.key': b64('K') } }), 'ns');
    const two = buildCredentials([{ name: 'x', mutual: false }], lookup({ x: { 'tls.crt': b64('C2'), 'tls.key': b64('K') } }), 'ns');
    expect(one.hash).to.not.equal(two.hash);
    expect(podHash('abc', one.hash)).to.not.equal(podHash('abc', two.hash));
    expect(podHash('abc', '')).to.equal('abc');
    expect(buildCredentials([], lookup({}), 'ns')).to.deep.equal({ data: {}, problems: [], hash: '' });
  });

  describe('Gateway ResolvedRefs', () => {
    const view = (secrets: Record<string, Record<string, Record<string, string>>>, gatewayNs: string[]): MeshView => ({
      rootNamespace: 'weft-system',
      hasGateway: () => true,
      hasVirtualService: () => true,
      hasService: () => true,
      serviceEntryHosts: () => [],
      destinationRules: () => [],
      workloadLabels: () => [ingress],
      gatewayNamespaces: () => gatewayNs,
      credentialSecrets: (ns) => (secrets[ns] ? lookup(secrets[ns]) : () => 'unwatched'),
    });
    const gateway = { kind: 'Gateway', ...gw('web', ingress, [https('web-cert')], 'apps') };

    it('names a credential Secret missing in the gateway workload\'s namespace (not the Gateway\'s)', () => {
      const r = resolveRefs(gateway, view({ 'weft-system': {}, apps: { 'web-cert': { 'tls.crt': 'x', 'tls.key': 'y' } } }, ['weft-system']));
      expect(r.errors).to.deep.equal([{
        field: 'spec.servers[0].tls.credentialName',
        message: 'credential Secret "weft-system/web-cert" not found (it must be in the gateway workload\'s namespace)',
        code: 'IST0101',
      }]);
    });

    it('is satisfied when the Secret is there, and says so when the workload\'s namespace is not read', () => {
      expect(resolveRefs(gateway, view({ 'weft-system': { 'web-cert': { 'tls.crt': 'x', 'tls.key': 'y' } } }, ['weft-system'])).errors).to.deep.equal([]);
      const r = resolveRefs(gateway, view({}, ['edge']));
      expect(r.errors[0]!.message).to.match(/credential Secret "web-cert" cannot be read: .* not in "edge"/);
    });

    it('checks nothing when no gateway workload matches (the selector warning stays)', () => {
      const r = resolveRefs(gateway, { ...view({}, []), workloadLabels: () => [] });
      expect(r.errors).to.deep.equal([]);
      expect(r.warnings.map((w) => w.code)).to.deep.equal(['IST0101']);
    });
  });
});

describe('Gateway findings from the snapshot (IST0145, WEFT0001)', () => {
  const GATEWAY_POD = { annotations: { 'weft.dev/proxy-mode': 'gateway' } };
  const snap = (...gateways: ReturnType<typeof gateway>[]) => snapshotOf(
    deployment('weft-ingressgateway', 'weft-system', { labels: { istio: 'ingressgateway' }, ips: ['10.0.9.1'], podOptions: GATEWAY_POD }),
    { namespaces: [namespace('apps')], config: { gateways } },
  );
  const server = (port: number, name: string, protocol: string, hosts: string[], tls?: Record<string, unknown>) => ({ port: { number: port, name, protocol }, hosts, ...(tls ? { tls } : {}) });
  const gw = (name: string, created: string, ...servers: ReturnType<typeof server>[]) =>
    gateway(name, 'apps', { selector: { istio: 'ingressgateway' }, servers } as never, { created });

  it('reports overlapping hosts on one port as IST0145 on both Gateways, a port held by another protocol as IST0145, an unsupported mode as WEFT0001', () => {
    const findings = gatewayFindings(snap(
      gw('a', '2024-01-01T00:00:00Z', server(443, 'https', 'HTTPS', ['shop.example.com'], { mode: 'SIMPLE', credentialName: 'c' })),
      gw('b', '2024-02-01T00:00:00Z', server(443, 'https-b', 'HTTPS', ['*.example.com'], { mode: 'SIMPLE', credentialName: 'c' }), server(15443, 'tls', 'TLS', ['*'], { mode: 'AUTO_PASSTHROUGH' })),
      gw('c', '2024-03-01T00:00:00Z', server(443, 'tcp', 'TCP', ['*'])),
    ));
    const codes = (k: string) => (findings.get(k) ?? []).map((f) => `${f.code} ${f.field}`).sort();
    expect(codes('Gateway/apps/a')).to.deep.equal(['IST0145 spec.servers[0]']);
    expect(codes('Gateway/apps/b')).to.deep.equal(['IST0145 spec.servers[0]', 'WEFT0001 spec.servers[1]']);
    expect(codes('Gateway/apps/c')).to.include('IST0145 spec.servers[0]');
    expect(findings.get('Gateway/apps/a')![0]!.message).to.contain('apps/b');
  });
});
