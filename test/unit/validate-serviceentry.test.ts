// ServiceEntry validation: what each resolution mode allows, and the rules around it (crds/testdata is checked
// for every kind in validate-testdata.test.ts).
import { expect } from 'chai';
import type { ServiceEntry, ServiceEntrySpec } from '../../src/api/serviceentry.ts';
import { formatFinding } from '../../src/validate/result.ts';
import { validateServiceEntry } from '../../src/validate/serviceentry.ts';

const errorsOf = (obj: ServiceEntry): string[] => validateServiceEntry(obj).errors.map(formatFinding);
const se = (spec: Partial<ServiceEntrySpec>): ServiceEntry => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'ServiceEntry',
  metadata: { name: 'x', namespace: 'default' },
  spec: { hosts: ['api.example.com'], ...spec },
});
const http = [{ number: 80, name: 'http', protocol: 'HTTP' }];

describe('validate/serviceentry', () => {
  it('refuses "*" but allows "*.domain"; warns about partial wildcards', () => {
    expect(errorsOf(se({ hosts: ['*'] }))[0]).to.match(/^spec\.hosts\[0\]: hostname cannot be wildcard/);
    expect(errorsOf(se({ hosts: ['*.example.com'] }))).to.deep.equal([]);
    const partial = validateServiceEntry(se({ hosts: ['*example.com'] }));
    expect(partial.errors).to.deep.equal([]);
    expect(partial.warnings[0]?.message).to.include('partial wildcard');
  });

  describe('resolution modes', () => {
    it('NONE: no endpoints; CIDR addresses and several hosts on TCP are fine', () => {
      expect(errorsOf(se({ resolution: 'NONE', endpoints: [] }))[0]).to.include('NONE mode cannot set endpoints');
      expect(errorsOf(se({ endpoints: [{ address: '1.2.3.4' }] }))[0]).to.include('NONE mode cannot set endpoints'); // NONE is the default
      expect(errorsOf(se({ hosts: ['a.example', 'b.example'], addresses: ['10.0.0.0/8'], ports: [{ number: 9000, name: 'tcp', protocol: 'TCP' }] }))).to.deep.equal([]);
    });

    it('STATIC: endpoint addresses are IPs or unix sockets, never names', () => {
      const ep = (address: string) => errorsOf(se({ resolution: 'STATIC', ports: http, endpoints: [{ address }] }));
      expect(ep('10.0.0.1')).to.deep.equal([]);
      expect(ep('2001:db8::1')).to.deep.equal([]);
      expect(ep('unix:///run/app.sock')).to.deep.equal([]);
      expect(ep('vm.example.com')[0]).to.include('not a valid IP address');
    });

    it('DNS: endpoints are IPs or names; without endpoints the hosts must be resolvable', () => {
      const dns = (spec: Partial<ServiceEntrySpec>) => errorsOf(se({ resolution: 'DNS', ports: http, ...spec }));
      expect(dns({ endpoints: [{ address: 'lb.example.com' }, { address: '10.0.0.1' }] })).to.deep.equal([]);
      expect(dns({ hosts: ['*.example.com'], endpoints: [{ address: 'lb.example.com' }] })).to.deep.equal([]);
      expect(dns({ hosts: ['*.example.com'] })[0]).to.include('hosts must be FQDN');
      expect(dns({ endpoints: [{ address: 'unix:///run/a.sock' }] })[0]).to.include('cannot be used with DNS resolution');
      expect(dns({ addresses: ['10.0.0.0/24'] })[0]).to.include('CIDR addresses are allowed only for NONE/STATIC');
    });

    it('DNS_ROUND_ROBIN: at most one endpoint', () => {
      const rr = (n: number) => errorsOf(se({ resolution: 'DNS_ROUND_ROBIN', endpoints: Array.from({ length: n }, (_, i) => ({ address: `e${i}.example.com` })) }));
      expect(rr(1)).to.deep.equal([]);
      expect(rr(2)[0]).to.include('cannot have multiple endpoints');
    });

    it('DYNAMIC_DNS: wildcard hosts of an external service; endpoints are ignored', () => {
      const dyn = (spec: Partial<ServiceEntrySpec>) => validateServiceEntry(se({ resolution: 'DYNAMIC_DNS', location: 'MESH_EXTERNAL', hosts: ['*.example.com'], ports: http, ...spec }));
      expect(dyn({}).errors).to.deep.equal([]);
      expect(dyn({ location: undefined }).errors.map(formatFinding)[0]).to.match(/^spec\.location: /);
      expect(dyn({ endpoints: [{ address: 'x.example.com' }] }).warnings.map((w) => w.message).join()).to.include('ignored');
    });
  });

  it('tells several hosts apart only by HTTP Host or TLS SNI', () => {
    const ports = (protocol?: string) => errorsOf(se({ hosts: ['a.example.com', 'b.example.com'], resolution: 'DNS', ports: [{ number: 443, name: 'p', ...(protocol ? { protocol } : {}) }] }));
    expect(ports('TLS')).to.deep.equal([]);
    expect(ports('grpc')).to.deep.equal([]);
    expect(ports('TCP')[0]).to.include('multiple hosts provided with non-HTTP, non-TLS ports');
    expect(ports()[0]).to.include('multiple hosts provided'); // unset protocol may be TCP
  });

  it('maps endpoint ports onto declared port names only', () => {
    const ep = (ports: Record<string, number>) => errorsOf(se({ resolution: 'STATIC', ports: http, endpoints: [{ address: '10.0.0.1', ports }] }));
    expect(ep({ http: 8080 })).to.deep.equal([]);
    expect(ep({ https: 8443 })[0]).to.match(/^spec\.endpoints\[0\]\.ports\[https\]: endpoint port "https" is not defined by the service entry/);
    expect(ep({ http: 70000 })[0]).to.include('port must be between 1-65535');
  });

  it('accepts protocols in any case and refuses unknown ones', () => {
    const proto = (protocol: string) => errorsOf(se({ resolution: 'DNS', ports: [{ number: 80, name: 'p', protocol }] }));
    for (const ok of ['http', 'HTTPS', 'Grpc-Web', 'http_proxy', 'mongo', 'Redis', 'MySQL', 'udp']) expect(proto(ok), ok).to.deep.equal([]);
    expect(proto('QUIC')[0]).to.include('unsupported protocol');
  });

  it('keeps endpoints and a workload selector apart, and warns where a selector does nothing', () => {
    expect(errorsOf(se({ resolution: 'STATIC', workloadSelector: { labels: { app: 'a' } }, endpoints: [] }))[0]).to.include('only one of WorkloadSelector or Endpoints');
    const dns = validateServiceEntry(se({ resolution: 'DNS', ports: http, workloadSelector: { labels: { app: 'a' } } }));
    expect(dns.errors).to.deep.equal([]);
    expect(dns.warnings.map((w) => w.message).join()).to.include('should not be set when resolution is DNS');
    const empty = validateServiceEntry(se({ resolution: 'STATIC', workloadSelector: {} }));
    expect(empty.warnings.map((w) => w.message).join()).to.include('every workload');
  });

  it('warns that TCP ports without addresses are told apart by port alone', () => {
    const r = validateServiceEntry(se({ resolution: 'DNS', ports: [{ number: 5432, name: 'pg', protocol: 'TCP' }] }));
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings.map((w) => w.code)).to.include('IST0134');
  });
});
