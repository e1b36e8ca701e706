import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import type { Gateway } from '../../src/api/gateway.ts';
import { validateGateway, GATEWAY_CEL } from '../../src/validate/gateway.ts';
import { formatFinding } from '../../src/validate/result.ts';
import type { ValidationResult } from '../../src/validate/result.ts';

const root = resolve(import.meta.dirname, '../..');

function crd(): Record<string, any> {
  return parse(readFileSync(resolve(root, 'crds/networking.istio.io_gateways.yaml'), 'utf8'), { merge: true, maxAliasCount: -1 });
}

const lines = (r: ValidationResult, kind: 'errors' | 'warnings' = 'errors') => r[kind].map(formatFinding);

function gw(servers: unknown[], extra: Record<string, unknown> = {}): Gateway {
  return { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'istio-system' }, spec: { servers, ...extra } } as Gateway;
}
const server = (port: Record<string, unknown>, rest: Record<string, unknown> = {}) => ({ port: { name: 'p', ...port }, hosts: ['a.example.com'], ...rest });

describe('validate/gateway', () => {
  it('implements every CEL rule of the CRD with the same message', () => {
    const messages: string[] = [];
    const walk = (s: Record<string, any>): void => {
      for (const r of s['x-kubernetes-validations'] ?? []) messages.push(String(r.message));
      for (const c of Object.values(s.properties ?? {})) walk(c as Record<string, any>);
      if (s.items) walk(s.items);
    };
    walk(crd().spec.versions[0].schema.openAPIV3Schema);
    expect(messages.sort()).to.deep.equal(Object.values(GATEWAY_CEL).sort());
  });

  describe('ports and binds', () => {
    it('takes port 0 only with a unix socket bind', () => {
      expect(validateGateway(gw([server({ number: 0, protocol: 'HTTP' }, { bind: 'unix:///run/gw.sock' })])).errors).to.deep.equal([]);
      expect(validateGateway(gw([server({ number: 0, protocol: 'HTTP' }, { bind: 'unix://@abstract' })])).errors).to.deep.equal([]);
      expect(lines(validateGateway(gw([server({ number: 0, protocol: 'HTTP' })]))).join()).to.include(GATEWAY_CEL.portNumber);
    });
    it('accepts protocols case-insensitively', () => {
      expect(validateGateway(gw([server({ number: 80, protocol: 'Http' })])).errors).to.deep.equal([]);
    });
  });

  describe('tls', () => {
    it('lets a plain HTTP server carry only httpsRedirect', () => {
      const r = validateGateway(gw([server({ number: 80, protocol: 'HTTP' }, { tls: { httpsRedirect: true } })]));
      expect(r.errors).to.deep.equal([]);
      expect(r.warnings).to.deep.equal([]);
      const bad = validateGateway(gw([server({ number: 80, protocol: 'HTTP' }, { tls: { httpsRedirect: true, serverCertificate: '/c.pem' } })]));
      expect(lines(bad).join()).to.include('cannot terminate TLS');
    });
    it('warns when httpsRedirect is set on a server that is not HTTP', () => {
      const r = validateGateway(gw([server({ number: 443, protocol: 'HTTPS' }, { tls: { httpsRedirect: true, mode: 'SIMPLE', credentialName: 'c' } })]));
      expect(r.errors).to.deep.equal([]);
      expect(lines(r, 'warnings').join()).to.include('httpsRedirect only has an effect on HTTP servers');
    });
    it('needs key and certificate for SIMPLE unless a Secret provides them', () => {
      expect(validateGateway(gw([server({ number: 443, protocol: 'HTTPS' }, { tls: { mode: 'SIMPLE', credentialName: 'c' } })])).errors).to.deep.equal([]);
      const r = validateGateway(gw([server({ number: 443, protocol: 'HTTPS' }, { tls: { mode: 'SIMPLE' } })]));
      expect(r.errors.map((e) => e.field)).to.deep.equal(['spec.servers[0].tls.serverCertificate', 'spec.servers[0].tls.privateKey']);
    });
    it('needs a client CA for MUTUAL and OPTIONAL_MUTUAL with file certificates', () => {
      for (const mode of ['MUTUAL', 'OPTIONAL_MUTUAL']) {
        const tls = { mode, serverCertificate: '/c.pem', privateKey: '/k.pem' };
        expect(lines(validateGateway(gw([server({ number: 443, protocol: 'HTTPS' }, { tls })]))).join()).to.include(`${mode} TLS needs a CA bundle`);
        expect(validateGateway(gw([server({ number: 443, protocol: 'HTTPS' }, { tls: { ...tls, caCertificates: '/ca.pem' } })])).errors).to.deep.equal([]);
      }
    });
    it('warns that passthrough modes ignore certificates', () => {
      const r = validateGateway(gw([server({ number: 443, protocol: 'TLS' }, { tls: { mode: 'PASSTHROUGH', credentialName: 'c' } })]));
      expect(r.errors).to.deep.equal([]);
      expect(lines(r, 'warnings').join()).to.include('certificate settings are ignored');
    });
    it('warns about old TLS versions without ciphers, unknown and duplicate ciphers', () => {
      const tls = { mode: 'SIMPLE', credentialName: 'c', minProtocolVersion: 'TLSV1_0', cipherSuites: ['NOPE', 'AES128-SHA', 'AES128-SHA'] };
      const r = validateGateway(gw([server({ number: 443, protocol: 'HTTPS' }, { tls })]));
      expect(r.errors).to.deep.equal([]);
      expect(lines(r, 'warnings').join('\n')).to.include('unknown cipher suites: NOPE').and.include('duplicate cipher suites: AES128-SHA');
      const noCiphers = validateGateway(gw([server({ number: 443, protocol: 'HTTPS' }, { tls: { mode: 'SIMPLE', credentialName: 'c', minProtocolVersion: 'TLSV1_1' } })]));
      expect(lines(noCiphers, 'warnings').join()).to.include('TLSV1_1 needs cipherSuites');
    });
  });

  describe('hosts', () => {
    const hosts = (h: string[]) => validateGateway(gw([{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: h }]));
    it('accepts namespace/host forms, wildcards and IP addresses', () => {
      expect(hosts(['*', './a.example.com', '*/b.example.com', 'team/*.c.example.com', 'team/*', '10.1.2.3', '2001:db8::1']).errors).to.deep.equal([]);
    });
    it('refuses empty parts, short names and partial wildcards', () => {
      expect(lines(hosts(['/a.example.com'])).join()).to.include('both parts set');
      expect(lines(hosts(['ns/reviews'])).join()).to.include('short name');
      expect(lines(hosts(['a*.example.com'])).join()).to.include('partial wildcard');
    });
  });

  it('survives a resource without spec', () => {
    const r = validateGateway({ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'x' } });
    expect(lines(r)).to.deep.equal(['spec.servers: a Gateway needs at least one server']);
  });
});
