// WorkloadEntry validation, and the endpoint checks ServiceEntry shares with it (an endpoint has the shape of a
// WorkloadEntry spec): a WorkloadEntry (or one endpoint and what its ServiceEntry declares) in, findings out.
import type { WorkloadEntry, WorkloadEntrySpec } from '../api/workloadentry.ts';
import { checkDnsLabel, checkLabels, isObject } from './common.ts';
import { checkFqdn, isIpAddress } from './networking-common.ts';
import { at, Findings } from './result.ts';
import type { ValidationResult } from './result.ts';

export const UNIX_PREFIX = 'unix://';

/** What the context of an endpoint allows; a standalone WorkloadEntry allows any address form. */
export interface EndpointContext {
  /**
   * `any`: an IP, a DNS name or a unix socket (a WorkloadEntry, whose resolution is not known yet);
   * `static`: an IP or a unix socket (STATIC resolution); `dns`: an IP or a DNS name (DNS resolution).
   */
  addresses: 'any' | 'static' | 'dns';
  /** Port names the ServiceEntry declares; endpoint ports must name one of them. */
  servicePorts?: ReadonlySet<string>;
}

export function validateWorkloadEntry(obj: WorkloadEntry): ValidationResult {
  const f = new Findings();
  if (!isObject(obj.spec)) {
    f.error('spec', 'Required value: a WorkloadEntry needs a spec with an address or a network');
    return f.result();
  }
  checkWorkloadEntrySpec(obj.spec, 'spec', f, { addresses: 'any' });
  return f.result();
}

/** The checks of one WorkloadEntry spec or ServiceEntry endpoint, reported under `path`. */
export function checkWorkloadEntrySpec(we: WorkloadEntrySpec, path: string, f: Findings, ctx: EndpointContext): void {
  const address = typeof we.address === 'string' ? we.address : '';
  const hasPorts = isObject(we.ports) && Object.keys(we.ports).length > 0;
  if (address === '') {
    if (!we.network) f.error(at(path, 'address'), 'Address is required (or set network for a workload on another network)');
    else f.warn(at(path, 'address'), `address is unset; the workload is reached through the gateway of network "${we.network}"`);
  } else if (address.startsWith(UNIX_PREFIX)) {
    checkUnixAddress(address, path, f, ctx);
    if (we.ports !== undefined) f.error(at(path, 'ports'), 'UDS may not include ports: a unix:// endpoint has no port to map');
  } else if (!isIpAddress(address)) {
    if (ctx.addresses === 'static') {
      f.error(at(path, 'address'), `endpoint address "${address}" is not a valid IP address; STATIC resolution needs IPs or unix:// sockets (use DNS resolution for names)`);
    } else if (checkFqdn(address)) {
      f.error(at(path, 'address'), `address "${address}" is not a valid IP address or fully qualified domain name`);
    }
  }

  if (hasPorts) {
    for (const [name, port] of Object.entries(we.ports!)) {
      const p = `${at(path, 'ports')}[${name}]`;
      if (name.length > 63 || checkDnsLabel(name)) f.error(p, `port name must be valid: "${name}" is not a DNS label (letters, digits and '-', at most 63)`);
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
        f.error(p, `port must be between 1-65535 (got ${String(port)})`);
      }
      if (ctx.servicePorts && !ctx.servicePorts.has(name)) {
        f.error(p, `endpoint port "${name}" is not defined by the service entry (declared: ${[...ctx.servicePorts].join(', ') || 'none'})`);
      }
    }
  }

  if (isObject(we.labels)) checkLabels(we.labels as Record<string, string>, (key, message) => f.error(`${at(path, 'labels')}[${key}]`, message));
  if (we.weight !== undefined && (!Number.isInteger(we.weight) || we.weight < 0 || we.weight > 4294967295)) {
    f.error(at(path, 'weight'), `weight must be an integer from 0 to 4294967295 (got ${String(we.weight)})`);
  }
  if (typeof we.serviceAccount === 'string' && we.serviceAccount !== '') {
    const e = checkServiceAccountName(we.serviceAccount);
    if (e) f.error(at(path, 'serviceAccount'), e);
  }
}

/** unix:///absolute/path or unix://@abstract; never a directory, and never with DNS resolution. */
function checkUnixAddress(address: string, path: string, f: Findings, ctx: EndpointContext): void {
  const p = at(path, 'address');
  const socket = address.slice(UNIX_PREFIX.length);
  if (ctx.addresses === 'dns') f.error(p, `unix:// endpoint "${address}" cannot be used with DNS resolution (use STATIC)`);
  if (!socket.startsWith('/') && !socket.startsWith('@')) {
    f.error(p, `UDS must be an absolute path or abstract socket: "${address}" (use unix:///path or unix://@name)`);
  } else if (socket.endsWith('/')) {
    f.error(p, `UDS may not be a dir: "${address}" ends with "/"`);
  }
  if (ctx.servicePorts && ctx.servicePorts.size !== 1) {
    f.error(p, `a unix:// endpoint needs exactly one service port (the service declares ${ctx.servicePorts.size})`);
  }
}

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Kubernetes service account names are DNS-1123 subdomains. */
export function checkServiceAccountName(name: string): string | undefined {
  if (name.length > 253 || !SUBDOMAIN.test(name)) {
    return `service account "${name}" is not a valid name (lowercase letters, digits, '-' and '.', at most 253 characters)`;
  }
  return undefined;
}

