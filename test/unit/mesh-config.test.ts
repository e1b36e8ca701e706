import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { checkMeshConfigMap, parseMeshConfig } from '../../src/model/mesh-config.ts';
import { DEFAULT_MESH_OPTIONS } from '../../src/model/types.ts';

describe('mesh config (Istio MeshConfig fields)', () => {
  it('maps the fields weft carries out into MeshOptions', () => {
    const r = parseMeshConfig(`
rootNamespace: weft-system
trustDomain: example.org
outboundTrafficPolicy:
  mode: REGISTRY_ONLY
pathNormalization:
  normalization: MERGE_SLASHES
enableAutoMtls: true
extensionProviders:
- name: opa
  envoyExtAuthzHttp:
    service: opa.authz.svc.cluster.local
    port: 8181
    timeout: 2s
    pathPrefix: /check
    failOpen: false
    statusOnError: 503
    includeRequestHeadersInCheck: [authorization]
    includeHeadersInCheck: [cookie]
    includeRequestBodyInCheck: { maxRequestBytes: 1024, allowPartialMessage: true }
    headersToUpstreamOnAllow: [x-user]
- name: grpc-authz
  envoyExtAuthzGrpc:
    service: authz/ext-authz.authz.svc.cluster.local
    port: 9000
- name: zipkin
  zipkin: { service: zipkin.istio-system.svc.cluster.local, port: 9411 }
`);
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings).to.deep.equal([
      { field: 'extensionProviders[0].envoyExtAuthzHttp.includeHeadersInCheck', message: 'deprecated: use includeRequestHeadersInCheck (merged into it)' },
    ]);
    expect(r.options).to.deep.equal({
      rootNamespace: 'weft-system',
      trustDomain: 'example.org',
      outboundTrafficPolicy: 'REGISTRY_ONLY',
      pathNormalization: 'MERGE_SLASHES',
      extensionProviders: [
        {
          name: 'opa',
          envoyExtAuthzHttp: {
            service: 'opa.authz.svc.cluster.local', port: 8181, timeout: '2s', pathPrefix: '/check', failOpen: false, statusOnError: '503',
            includeRequestHeadersInCheck: ['authorization', 'cookie'],
            includeRequestBodyInCheck: { maxRequestBytes: 1024, allowPartialMessage: true },
            headersToUpstreamOnAllow: ['x-user'],
          },
        },
        { name: 'grpc-authz', envoyExtAuthzGrpc: { service: 'authz/ext-authz.authz.svc.cluster.local', port: 9000 } },
        { name: 'zipkin', zipkin: { service: 'zipkin.istio-system.svc.cluster.local', port: 9411 } },
      ],
    });
  });

  it('an empty config sets nothing; DEFAULT normalization is Istio\'s BASE', () => {
    expect(parseMeshConfig('')).to.deep.equal({ options: {}, errors: [], warnings: [] });
    expect(parseMeshConfig('pathNormalization: {normalization: DEFAULT}').options).to.deep.equal({ pathNormalization: 'BASE' });
  });

  it('reads integers as protobuf JSON does: Istio\'s samples quote ports', () => {
    const r = parseMeshConfig(`
extensionProviders:
- name: grpc
  envoyExtAuthzGrpc: {service: ext-authz.foo.svc.cluster.local, port: "9000", includeRequestBodyInCheck: {maxRequestBytes: "4096"}}
- name: bad
  envoyExtAuthzHttp: {service: ext-authz.foo.svc.cluster.local, port: "80a"}
`);
    expect(r.errors.map((e) => e.field)).to.deep.equal(['extensionProviders[1].envoyExtAuthzHttp.port']);
    expect(r.options.extensionProviders).to.deep.equal([
      { name: 'grpc', envoyExtAuthzGrpc: { service: 'ext-authz.foo.svc.cluster.local', port: 9000, includeRequestBodyInCheck: { maxRequestBytes: 4096 } } },
    ]);
  });

  it('errors name the field; nothing invalid reaches the options', () => {
    const r = parseMeshConfig(`
outboundTrafficPolicy: {mode: DENY}
pathNormalization: {normalization: WEIRD}
extensionProviders:
- name: a
  envoyExtAuthzHttp: {service: a.b, port: 70000, timeout: soon}
- name: a
  envoyExtAuthzGrpc: {port: 9000}
- {name: both, envoyExtAuthzHttp: {service: x, port: 1}, envoyExtAuthzGrpc: {service: x, port: 1}}
- envoyExtAuthzGrpc: {service: x, port: 1}
`);
    expect(r.errors.map((e) => e.field)).to.deep.equal([
      'outboundTrafficPolicy.mode',
      'pathNormalization.normalization',
      'extensionProviders[0].envoyExtAuthzHttp.port',
      'extensionProviders[0].envoyExtAuthzHttp.timeout',
      'extensionProviders[1].name',
      'extensionProviders[1].envoyExtAuthzGrpc.service',
      'extensionProviders[2]',
      'extensionProviders[3].name',
    ]);
    expect(r.errors[0]!.message).to.equal('must be ALLOW_ANY or REGISTRY_ONLY, not "DENY"');
    expect(r.options.outboundTrafficPolicy).to.equal(undefined);
    expect(r.options.extensionProviders).to.deep.equal([]);
  });

  it('unknown fields and Istio fields weft ignores are warnings', () => {
    const r = parseMeshConfig('accessLogFile: /dev/stdout\nfrobnicate: 1\nenableAutoMtls: false\n');
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings.map((w) => [w.field, w.message])).to.deep.equal([
      ['accessLogFile', 'an Istio MeshConfig field weft does not carry out: ignored'],
      ['frobnicate', 'unknown field: ignored'],
      ['enableAutoMtls', 'weft always uses auto mTLS (ISTIO_MUTUAL to endpoints with a sidecar, plaintext to others): false is not carried out'],
    ]);
  });

  it('broken YAML and a non-mapping are errors', () => {
    expect(parseMeshConfig('a: [').errors[0]!.field).to.equal('<yaml>');
    expect(parseMeshConfig('- 1').errors).to.deep.equal([{ field: '<root>', message: 'the mesh config must be a mapping of MeshConfig fields' }]);
  });

  it('checks a ConfigMap holding a mesh config, fields prefixed with data.mesh', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'weft' }, data: { mesh: 'outboundTrafficPolicy: {mode: X}' } };
    expect(checkMeshConfigMap(cm)!.errors.map((e) => e.field)).to.deep.equal(['data.mesh.outboundTrafficPolicy.mode']);
    expect(checkMeshConfigMap({ apiVersion: 'v1', kind: 'ConfigMap', data: { other: 'x' } })).to.equal(undefined);
    expect(checkMeshConfigMap({ kind: 'Service' })).to.equal(undefined);
  });

  it('config/mesh-config.yaml is valid, sets nothing, and its commented defaults are weft\'s defaults', () => {
    const cm = parse(readFileSync(resolve(import.meta.dirname, '../../config/mesh-config.yaml'), 'utf8')) as { data: { mesh: string } };
    expect(checkMeshConfigMap(cm)).to.deep.equal({ options: {}, errors: [], warnings: [] });
    // Uncommented up to the examples (providers are examples, not defaults).
    const settings = cm.data.mesh.split('\n').filter((l) => /^# +([a-zA-Z]+:( |$)|- )/.test(l)).map((l) => l.slice(2));
    const defaults = settings.slice(0, settings.findIndex((l) => l.startsWith('extensionProviders')) + 1).join('\n');
    const r = parseMeshConfig(defaults.replace(/extensionProviders:$/, 'extensionProviders: []'));
    expect(r.errors).to.deep.equal([]);
    const { rootNamespace, trustDomain, outboundTrafficPolicy, pathNormalization, extensionProviders } = DEFAULT_MESH_OPTIONS;
    expect(r.options).to.deep.equal({ rootNamespace, trustDomain, outboundTrafficPolicy, pathNormalization, extensionProviders });
  });
});
