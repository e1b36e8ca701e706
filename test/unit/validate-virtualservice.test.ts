import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import type { VirtualService } from '../../src/api/virtualservice.ts';
import { formatFinding } from '../../src/validate/result.ts';
import type { ValidationResult } from '../../src/validate/result.ts';
import { validateVirtualService, SPEC_CEL } from '../../src/validate/virtualservice.ts';
import { CEL } from '../../src/validate/virtualservice-http.ts';

const root = resolve(import.meta.dirname, '../..');

function crd(): Record<string, any> {
  return parse(readFileSync(resolve(root, 'crds/networking.istio.io_virtualservices.yaml'), 'utf8'), { merge: true, maxAliasCount: -1 });
}

const lines = (r: ValidationResult, kind: 'errors' | 'warnings' = 'errors') => r[kind].map(formatFinding);

function vs(spec: Record<string, unknown>, name = 'test'): VirtualService {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec } as VirtualService;
}
const route = (host = 'reviews') => [{ destination: { host } }];

describe('validate/virtualservice', () => {
  it('implements every CEL rule of the CRD with the same message', () => {
    const messages = new Set<string>();
    const walk = (s: Record<string, any>): void => {
      for (const r of s['x-kubernetes-validations'] ?? []) messages.add(String(r.message).replace(/^spec(\.\w+)?: /, ''));
      for (const c of Object.values(s.properties ?? {})) walk(c as Record<string, any>);
      if (s.items) walk(s.items);
      if (s.additionalProperties && typeof s.additionalProperties === 'object') walk(s.additionalProperties);
    };
    walk(crd().spec.versions[0].schema.openAPIV3Schema);
    const known = new Set<string>([...Object.values(SPEC_CEL), ...Object.values(CEL), 'a delegate VirtualService (one without hosts) cannot delegate again']);
    expect([...messages].filter((m) => !known.has(m))).to.deep.equal([]);
    expect(messages.size).to.be.greaterThan(10);
  });

  describe('weights', () => {
    it('lets a single destination omit its weight', () => {
      expect(lines(validateVirtualService(vs({ hosts: ['a'], http: [{ route: route('a') }] })))).to.deep.equal([]);
    });
    it('refuses several destinations without any weight', () => {
      const r = validateVirtualService(vs({ hosts: ['a'], http: [{ route: [...route('a'), ...route('b')] }] }));
      expect(lines(r).join()).to.match(/must not all be 0/);
    });
    it('warns when weights do not sum to 100 (they are relative shares)', () => {
      const r = validateVirtualService(vs({ hosts: ['a'], http: [{ route: [{ ...route('a')[0], weight: 1 }, { ...route('b')[0], weight: 3 }] }] }));
      expect(r.errors).to.deep.equal([]);
      expect(lines(r, 'warnings').join()).to.match(/sum to 4, not 100/);
    });
    it('applies to tcp and tls routes too', () => {
      const r = validateVirtualService(vs({ hosts: ['db'], tcp: [{ route: [...route('db'), ...route('db2')] }] }));
      expect(lines(r).join()).to.match(/spec\.tcp\[0\]\.route: .*must not all be 0/);
    });
  });

  describe('delegation', () => {
    it('treats a VirtualService without hosts as a delegate', () => {
      const ok = validateVirtualService(vs({ http: [{ route: route() }] }));
      expect(ok.errors).to.deep.equal([]);
      const withGateways = validateVirtualService(vs({ gateways: ['gw'], http: [{ route: route() }] }));
      expect(lines(withGateways)).to.deep.equal([`spec.gateways: ${SPEC_CEL.delegateGateways}`]);
    });
    it('allows delegate only in a root VirtualService', () => {
      expect(validateVirtualService(vs({ hosts: ['a.com'], http: [{ delegate: { name: 'child' } }] })).errors).to.deep.equal([]);
      expect(lines(validateVirtualService(vs({ http: [{ delegate: { name: 'child' } }] }))).join()).to.match(/cannot delegate again/);
    });
  });

  describe('hosts and gateways', () => {
    it('allows "*" only for gateway-bound VirtualServices', () => {
      expect(validateVirtualService(vs({ hosts: ['*'], gateways: ['gw'], http: [{ route: route() }] })).errors).to.deep.equal([]);
      expect(lines(validateVirtualService(vs({ hosts: ['*'], gateways: ['gw', 'mesh'], http: [{ route: route() }] }))).join()).to.include(SPEC_CEL.wildcardMesh);
    });
    it('finds overlapping hosts', () => {
      const r = validateVirtualService(vs({ hosts: ['*.foo.com', '*.bar.foo.com'], http: [{ route: route() }] }));
      expect(lines(r).join()).to.match(/spec\.hosts\[1\]: duplicate host/);
    });
    it('warns about the legacy name.namespace gateway form', () => {
      const r = validateVirtualService(vs({ hosts: ['a.com'], gateways: ['gw.istio-system'], http: [{ route: route() }] }));
      expect(r.errors).to.deep.equal([]);
      expect(lines(r, 'warnings').join()).to.include('prefer "istio-system/gw"');
    });
    it('refuses exportTo "." duplicated by the own namespace', () => {
      const r = validateVirtualService(vs({ hosts: ['a'], exportTo: ['.', 'default'], http: [{ route: route() }] }));
      expect(lines(r).join()).to.match(/spec\.exportTo\[1\]: .*own namespace/);
    });
  });

  describe('header changes', () => {
    const withHeaders = (headers: unknown) => validateVirtualService(vs({ hosts: ['a'], http: [{ headers, route: route() }] }));
    it('accepts proxy variables and escaped percent signs', () => {
      expect(withHeaders({ request: { set: { a: '%START_TIME(%Y-%m-%d)%', b: '100%%', c: '%UPSTREAM_METADATA(["a","b"])%' } } }).errors).to.deep.equal([]);
    });
    it('refuses unterminated variables', () => {
      expect(lines(withHeaders({ request: { set: { a: '%START_TIME%%' } } })).join()).to.include('stray "%"');
      expect(lines(withHeaders({ request: { set: { a: 'abc%123' } } })).join()).to.include('stray "%"');
    });
    it('lets requests rewrite the authority but not other pseudo-headers', () => {
      expect(withHeaders({ request: { set: { ':authority': 'x.com' } } }).errors).to.deep.equal([]);
      expect(lines(withHeaders({ request: { remove: ['host'] } })).join()).to.include('Host header');
      expect(lines(withHeaders({ request: { set: { ':method': 'GET' } } })).join()).to.include('pseudo-header');
    });
  });

  describe('unreachable rules and ineffective matches', () => {
    const warnings = (http: unknown[]) => validateVirtualService(vs({ hosts: ['a'], http })).warnings;
    it('flags rules after a rule that matches everything (IST0130)', () => {
      const w = warnings([{ route: route() }, { match: [{ uri: { prefix: '/a' } }], route: route() }]);
      expect(w.map((x) => `${x.field} ${x.code}`)).to.deep.equal(['spec.http[1] IST0130']);
    });
    it('flags a match repeated from an earlier rule (IST0131) and a rule whose matches all repeat (IST0130)', () => {
      const w = warnings([
        { name: 'first', match: [{ uri: { exact: '/a' } }, { uri: { exact: '/b' } }], route: route() },
        { match: [{ name: 'again', uri: { exact: '/a' } }, { uri: { exact: '/c' } }], route: route() },
        { match: [{ uri: { exact: '/b' } }], route: route() },
      ]);
      expect(w.map((x) => `${x.field} ${x.code}`)).to.deep.equal(['spec.http[1].match[0] IST0131', 'spec.http[2] IST0130']);
    });
    it('sees a longer prefix behind a shorter one with the same other conditions', () => {
      const w = warnings([
        { match: [{ uri: { prefix: '/debug' }, method: { exact: 'GET' } }], route: route() },
        { match: [{ uri: { prefix: '/debugs' }, method: { exact: 'GET' } }, { uri: { prefix: '/other' } }], route: route() },
        { match: [{ uri: { prefix: '/debugz' } }], route: route() },
      ]);
      expect(w.map((x) => `${x.field} ${x.code}`)).to.deep.equal(['spec.http[1].match[0] IST0131']);
    });
    it('respects case-insensitive matching', () => {
      const w = warnings([
        { match: [{ uri: { prefix: '/a' } }], route: route() },
        { match: [{ uri: { prefix: '/a/b' }, ignoreUriCase: true }], route: route() },
      ]);
      expect(w).to.deep.equal([]);
    });
    it('analyses tcp rules the same way', () => {
      const w = validateVirtualService(vs({ hosts: ['db'], tcp: [{ route: route('db') }, { route: route('db') }] })).warnings;
      expect(w.map((x) => `${x.field} ${x.code}`)).to.deep.equal(['spec.tcp[1] IST0130']);
    });
  });

  it('accepts a delegate VirtualService with several rules without false reachability errors', () => {
    const r = validateVirtualService(vs({ http: [{ match: [{ uri: { prefix: '/v1' } }], route: route() }, { route: route() }] }));
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings).to.deep.equal([]);
  });

  it('survives a resource without spec', () => {
    const r = validateVirtualService({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'x' } });
    expect(lines(r)).to.deep.equal([`spec: ${SPEC_CEL.routes}`]);
  });
});
