// weftctl proxy-config without an API server: its tables over a decoded bundle, its argument forms, the
// packing the writer uses, and the command as a child process reading a bundle file.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'yaml';
import { packProxyConfig, proxyConfigMapContent, sha256Hex, unpackProxyConfig } from '../../src/controllers/proxy-bundle.ts';
import { parseProxyConfigArgs, render } from '../../src/cli/proxy-config-cmd.ts';
import { CONFIG_HASH_ANNOTATION, PROXY_CONFIG_KEY } from '../../src/translate/envoy/bundle-format.ts';
import { decodeProxyConfig, encodeProxyConfig } from '../../src/translate/envoy/proto.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { any } from '../../src/translate/envoy/values.ts';
import { proxyConfig } from './envoy-fixtures.ts';

const root = resolve(import.meta.dirname, '../..');

const fixture: ProxyConfig = {
  ...proxyConfig,
  listeners: [
    ...proxyConfig.listeners,
    {
      name: 'virtualOutbound',
      address: { socketAddress: { address: '0.0.0.0', portValue: 15001 } },
      useOriginalDst: { value: true },
      filterChains: [
        { filters: [{ name: 'envoy.filters.network.tcp_proxy', typedConfig: any('envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', { statPrefix: 'PassthroughCluster', cluster: 'PassthroughCluster' }) }] },
      ],
    },
  ],
  clusters: [
    ...proxyConfig.clusters,
    { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED' },
    {
      name: 'outbound|9080||ratings.default.svc.cluster.local',
      type: 'EDS',
      metadata: {
        filterMetadata: {
          istio: { fields: { config: { stringValue: '/apis/networking.istio.io/v1/namespaces/default/destination-rule/ratings' } } },
        },
      },
    },
  ],
};

const decoded = decodeProxyConfig(encodeProxyConfig(fixture));

describe('weftctl proxy-config', () => {
  describe('tables', () => {
    it('listeners', () => {
      expect(render(decoded, 'listeners', 'table')).to.equal(
        [
          'NAME              ADDRESS   PORT    TYPE',
          '0.0.0.0_9080      0.0.0.0   9080    HTTP',
          'virtualOutbound   0.0.0.0   15001   TCP',
          '',
        ].join('\n'),
      );
    });

    it('routes: one row per route, weighted clusters with their weights', () => {
      expect(render(decoded, 'routes', 'table').split('\n')).to.deep.equal([
        'NAME   VIRTUAL HOST                             DOMAINS                                     MATCH                    CLUSTER',
        '9080   reviews.default.svc.cluster.local:9080   reviews.default.svc.cluster.local +3 more   /* (headers: end-user)   ' +
          'outbound|9080|v1|reviews.default.svc.cluster.local 75, outbound|9080|v2|reviews.default.svc.cluster.local 25',
        '',
      ]);
    });

    it('clusters: the parts of Istio-style names, the DestinationRule from metadata', () => {
      expect(render(decoded, 'clusters', 'table').split('\n')).to.deep.equal([
        'SERVICE FQDN                        PORT   SUBSET   DIRECTION   TYPE           DESTINATION RULE',
        'reviews.default.svc.cluster.local   9080   v1       outbound    EDS            -',
        'reviews.default.svc.cluster.local   9080   v2       outbound    EDS            -',
        'PassthroughCluster                  -      -        -           ORIGINAL_DST   -',
        'ratings.default.svc.cluster.local   9080   -        outbound    EDS            ratings.default',
        '',
      ]);
    });

    it('endpoints', () => {
      expect(render(decoded, 'endpoints', 'table').split('\n')).to.deep.equal([
        'ENDPOINT        STATUS     CLUSTER',
        '10.0.0.5:9080   HEALTHY    outbound|9080|v1|reviews.default.svc.cluster.local',
        '10.0.0.6:9080   DRAINING   outbound|9080|v1|reviews.default.svc.cluster.local',
        '10.0.1.7:9080   HEALTHY    outbound|9080|v1|reviews.default.svc.cluster.local',
        '',
      ]);
    });

    it('all: the workload, then every table', () => {
      const out = render({ ...decoded, version: 'abcdef0123456789' }, 'all', 'table');
      expect(out.split('\n')[0]).to.equal('Deployment default/productpage-v1, service account bookinfo-productpage, version abcdef012345');
      for (const header of ['NAME              ADDRESS', 'NAME   VIRTUAL HOST', 'SERVICE FQDN', 'ENDPOINT']) expect(out).to.include(`\n\n${header}`);
    });

    it('json and yaml carry the full objects', () => {
      expect(JSON.parse(render(decoded, 'clusters', 'json'))).to.deep.equal(fixture.clusters);
      expect(parse(render(decoded, 'all', 'yaml'))).to.deep.equal(JSON.parse(JSON.stringify(decoded)));
    });
  });

  describe('arguments', () => {
    const usage = (m: string) => new Error(`usage: ${m}`);
    it('takes <target> [kind] and istioctl\'s <kind> <target>', () => {
      expect(parseProxyConfigArgs(['productpage-v1-abc', 'clusters', '-n', 'bookinfo'], usage)).to.deep.equal({
        source: { kind: 'cluster', target: 'productpage-v1-abc', namespace: 'bookinfo', kubeconfig: undefined },
        resource: 'clusters',
        output: 'table',
      });
      expect(parseProxyConfigArgs(['routes', 'deployment/x', '-o', 'json', '--kubeconfig=/k'], usage)).to.deep.equal({
        source: { kind: 'cluster', target: 'deployment/x', namespace: undefined, kubeconfig: '/k' },
        resource: 'routes',
        output: 'json',
      });
      expect(parseProxyConfigArgs(['x'], usage).resource).to.equal('all');
      expect(parseProxyConfigArgs(['--file', 'b.pb.gz', 'ep'], usage)).to.deep.equal({
        source: { kind: 'file', path: 'b.pb.gz' }, resource: 'endpoints', output: 'table',
      });
    });

    it('refuses what it cannot read', () => {
      expect(() => parseProxyConfigArgs([], usage)).to.throw('needs a pod or workload');
      expect(() => parseProxyConfigArgs(['x', 'secrets'], usage)).to.throw('unknown resource kind "secrets"');
      expect(() => parseProxyConfigArgs(['x', '-o', 'wide'], usage)).to.throw('-o must be table, json or yaml');
      expect(() => parseProxyConfigArgs(['x', '--bogus'], usage)).to.throw('unknown argument "--bogus"');
    });
  });

  describe('packing for the ConfigMap', () => {
    it('versions, hashes and gzips; unpacking gives the config back', () => {
      const packed = packProxyConfig(fixture);
      const bytes = gunzipSync(packed.gzipped);
      expect(packed.hash).to.equal(sha256Hex(bytes));
      expect(packed.version).to.equal(sha256Hex(encodeProxyConfig(fixture)));
      const { config, hash } = unpackProxyConfig(packed.gzipped);
      expect(hash).to.equal(packed.hash);
      expect(config).to.deep.equal({ ...fixture, version: packed.version });
      expect(unpackProxyConfig(bytes).config.version).to.equal(packed.version);
      expect(packProxyConfig(fixture).gzipped.equals(packed.gzipped), 'the same config packs to the same bytes').to.equal(true);
      expect(proxyConfigMapContent(packed)).to.deep.equal({
        binaryData: { [PROXY_CONFIG_KEY]: packed.gzipped.toString('base64') },
        annotations: { [CONFIG_HASH_ANNOTATION]: packed.hash },
      });
    });
  });

  describe('as a child process', function () {
    this.timeout(30_000);
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'weft-pc-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const weftctl = (args: string[]) => spawnSync(process.execPath, [join(root, 'src/cli/weftctl.ts'), ...args], { cwd: root, encoding: 'utf8' });

    it('decodes a bundle file', () => {
      const file = join(dir, 'config.pb.gz');
      writeFileSync(file, packProxyConfig(fixture).gzipped);
      const r = weftctl(['proxy-config', '--file', file, 'listeners']);
      expect(r.stderr).to.equal('');
      expect(r.status).to.equal(0);
      expect(r.stdout).to.equal(render(decoded, 'listeners', 'table'));
    });

    it('exits 1 on a file that is no bundle, 2 on bad usage', () => {
      const file = join(dir, 'junk');
      writeFileSync(file, 'not protobuf at all');
      const r = weftctl(['proxy-config', '--file', file]);
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/^weftctl proxy-config: .*junk: not a weft proxy config bundle/);
      expect(weftctl(['proxy-config']).status).to.equal(2);
    });
  });
});
