// ServiceEntry validation: a ServiceEntry in, findings out. Hosts, addresses, ports, and what each resolution
// mode (NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS) allows of endpoints and hosts. Endpoints are checked
// with the WorkloadEntry rules. Implements the CRD's CEL rules too, for the offline path that has no CEL.
import type { ServiceEntry, ServiceEntrySpec } from '../api/serviceentry.ts';
import { checkCidr, checkDnsLabel, checkIp, checkLabels } from './common.ts';
import { checkExportTo, checkFqdn, checkWildcardDomain } from './networking-common.ts';
import { at, Findings } from './result.ts';
import type { ValidationResult } from './result.ts';
import { checkWorkloadEntrySpec } from './workloadentry.ts';
import type { EndpointContext } from './workloadentry.ts';

type Port = NonNullable<ServiceEntrySpec['ports']>[number];
type Resolution = NonNullable<ServiceEntrySpec['resolution']>;

/** Protocol names a service port may carry (case-insensitive); unset means "detect". */
const PROTOCOLS = new Set(['http', 'https', 'http2', 'grpc', 'grpc-web', 'http_proxy', 'tls', 'tcp', 'udp', 'mongo', 'mysql', 'redis']);
const HTTP_PROTOCOLS = new Set(['http', 'http2', 'grpc', 'grpc-web', 'http_proxy']);
const TLS_PROTOCOLS = new Set(['https', 'tls']);

export function validateServiceEntry(obj: ServiceEntry): ValidationResult {
  const f = new Findings();
  const spec = obj.spec;
  if (!spec || typeof spec !== 'object') {
    f.error('spec', 'Required value: a ServiceEntry needs a spec with at least one host');
    return f.result();
  }
  const resolution: Resolution = spec.resolution ?? 'NONE';
  checkHosts(spec, resolution, f);
  checkAddresses(spec, resolution, f);
  const servicePorts = checkPorts(spec, resolution, f);
  checkSelectorAndEndpoints(spec, resolution, servicePorts, f);
  const exportTo = Array.isArray(spec.exportTo) ? spec.exportTo : [];
  // "~" (nobody) is allowed here: only the service's own proxies see it.
  checkExportTo(exportTo, obj.metadata?.namespace, (i, message) => f.error(i < 0 ? 'spec.exportTo' : at('spec.exportTo', i), message), {
    allowNone: true,
  });
  return f.result();
}

function checkHosts(spec: ServiceEntrySpec, resolution: Resolution, f: Findings): void {
  const hosts = Array.isArray(spec.hosts) ? spec.hosts : [];
  if (hosts.length === 0) f.error('spec.hosts', 'Required value: a ServiceEntry needs at least one host');
  const dnsWithoutEndpoints = (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') && !spec.endpoints?.length;
  hosts.forEach((host, i) => {
    const p = at('spec.hosts', i);
    if (host === '*') {
      f.error(p, 'hostname cannot be wildcard: "*" would capture all traffic; name the hosts, or use "*.domain"');
      return;
    }
    const err = checkWildcardDomain(host);
    if (err) {
      f.error(p, err);
      return;
    }
    if (host.includes('*') && !host.startsWith('*.')) f.warn(p, `partial wildcard "${host}" is not recommended; use "*.domain"`);
    if (dnsWithoutEndpoints && checkFqdn(host)) {
      f.error(p, `hosts must be FQDN if no endpoints are provided for resolution mode ${resolution}: "${host}" cannot be resolved`);
    }
    if (resolution === 'DYNAMIC_DNS' && !host.startsWith('*')) {
      f.error(p, `DYNAMIC_DNS resolution needs wildcard hosts ("*.domain"); "${host}" is not one (use DNS)`);
    }
  });
  if (resolution === 'DYNAMIC_DNS' && spec.location !== 'MESH_EXTERNAL') {
    f.error('spec.location', 'DYNAMIC_DNS resolution is only supported for MESH_EXTERNAL services');
  }
}

function checkAddresses(spec: ServiceEntrySpec, resolution: Resolution, f: Findings): void {
  const addresses = Array.isArray(spec.addresses) ? spec.addresses : [];
  let cidr = -1;
  addresses.forEach((a, i) => {
    const err = a.includes('/') ? checkCidr(a) : checkIp(a);
    if (err) f.error(at('spec.addresses', i), a.startsWith('unix://') ? `unix:// addresses are not allowed here: ${err}` : err);
    if (a.includes('/') && cidr < 0) cidr = i;
  });
  if (cidr >= 0 && resolution !== 'NONE' && resolution !== 'STATIC') {
    f.error(at('spec.addresses', cidr), `CIDR addresses are allowed only for NONE/STATIC resolution types (resolution is ${resolution})`);
  }
}

/** Returns the declared port names (for the endpoints' port maps). */
function checkPorts(spec: ServiceEntrySpec, resolution: Resolution, f: Findings): Set<string> {
  const names = new Map<string, number>();
  const numbers = new Map<number, number>();
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  const hosts = Array.isArray(spec.hosts) ? spec.hosts : [];
  const noAddresses = !spec.addresses?.length;
  let multiHostReported = false;
  ports.forEach((port: Port, i) => {
    const p = at('spec.ports', i);
    const name = typeof port.name === 'string' ? port.name : '';
    if (name === '') f.error(at(p, 'name'), 'Required value: every port needs a name');
    else if (name.length > 63 || checkDnsLabel(name)) f.error(at(p, 'name'), `invalid port name "${name}": must be a DNS label (letters, digits and '-', at most 63)`);
    if (names.has(name)) f.error(at(p, 'name'), `Duplicate value: port name "${name}" is already used by spec.ports[${names.get(name)}]`);
    else names.set(name, i);

    if (!isPort(port.number)) f.error(at(p, 'number'), `port must be between 1-65535 (got ${String(port.number)})`);
    if (numbers.has(port.number)) f.error(at(p, 'number'), `port number cannot be duplicated: ${port.number} is already used by spec.ports[${numbers.get(port.number)}]`);
    else numbers.set(port.number, i);

    if (port.targetPort !== undefined) {
      if (!isPort(port.targetPort)) f.error(at(p, 'targetPort'), `port must be between 1-65535 (got ${String(port.targetPort)})`);
      else if (resolution === 'NONE') f.warn(at(p, 'targetPort'), 'targetPort has no effect when resolution is NONE (traffic goes to the port the caller chose)');
    }
    const protocol = (port.protocol ?? '').toLowerCase();
    if (protocol !== '' && !PROTOCOLS.has(protocol)) {
      f.error(at(p, 'protocol'), `unsupported protocol "${port.protocol}": use HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, HTTP_PROXY, TLS, TCP, UDP, MONGO, MYSQL or REDIS`);
    }
    if (noAddresses && (protocol === '' || protocol === 'tcp')) {
      f.warn(p, 'addresses are required for ports serving TCP (or unset) protocol unless the proxy allocates addresses for ServiceEntries: without them the port alone identifies the service', 'IST0134');
    }
    // Plain TCP carries no host name, so several hosts cannot be told apart unless the proxy only forwards (NONE).
    if (resolution !== 'NONE' && hosts.length > 1 && !HTTP_PROTOCOLS.has(protocol) && !TLS_PROTOCOLS.has(protocol) && !multiHostReported) {
      f.error(at(p, 'protocol'), 'multiple hosts provided with non-HTTP, non-TLS ports: the hosts cannot be told apart (use one host per entry, or resolution NONE)');
      multiHostReported = true;
    }
  });
  if (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') {
    if (spec.addresses?.length && hosts.length > 1 && ports.some((p) => (p.protocol ?? '').toLowerCase() === 'tcp')) {
      f.warn('spec.hosts', 'a service entry with addresses and a TCP port should have a single host');
    }
  }
  return new Set(names.keys());
}

function checkSelectorAndEndpoints(spec: ServiceEntrySpec, resolution: Resolution, servicePorts: Set<string>, f: Findings): void {
  const endpoints = Array.isArray(spec.endpoints) ? spec.endpoints : undefined;
  const selector = spec.workloadSelector;
  if (selector && spec.endpoints !== undefined) {
    f.error('spec.workloadSelector', 'only one of WorkloadSelector or Endpoints can be set');
  }
  if (selector) {
    const labels = selector.labels ?? {};
    for (const [k, v] of Object.entries(labels)) {
      const p = `spec.workloadSelector.labels[${k}]`;
      if (k.includes('*') || (v ?? '').includes('*')) f.error(p, 'wildcard is not supported in selector');
      else if (k === '') f.error(p, 'empty key is not supported in selector');
    }
    checkLabels(labels as Record<string, string>, (key, message) => {
      if (!key.includes('*') && !(labels[key] ?? '').includes('*') && key !== '') f.error(`spec.workloadSelector.labels[${key}]`, message);
    });
    if (Object.keys(labels).length === 0) {
      f.warn('spec.workloadSelector', 'workload selector without labels selects every workload in the namespace');
    }
    if (resolution !== 'STATIC') f.warn('spec.workloadSelector', `workloadSelector should not be set when resolution is ${resolution}`);
    if (spec.location === 'MESH_EXTERNAL') f.warn('spec.workloadSelector', 'workloadSelector is meant for MESH_INTERNAL services');
  }

  if (spec.endpoints === undefined) return;
  if (resolution === 'NONE') {
    f.error('spec.endpoints', 'NONE mode cannot set endpoints: the proxy forwards to the address the caller connected to');
    return;
  }
  if (resolution === 'DNS_ROUND_ROBIN' && (endpoints?.length ?? 0) > 1) {
    f.error('spec.endpoints', `DNS_ROUND_ROBIN mode cannot have multiple endpoints (found ${endpoints!.length}); use DNS`);
  }
  if (resolution === 'DYNAMIC_DNS') {
    f.warn('spec.endpoints', 'endpoints are ignored with DYNAMIC_DNS resolution (the request\'s host is resolved)');
    return;
  }
  const ctx: EndpointContext = { addresses: resolution === 'STATIC' ? 'static' : 'dns', servicePorts };
  (endpoints ?? []).forEach((ep, i) => {
    if (!ep || typeof ep !== 'object') {
      f.error(at('spec.endpoints', i), 'endpoint must be an object');
      return;
    }
    checkWorkloadEntrySpec(ep, at('spec.endpoints', i), f, ctx);
  });
}

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}
