// TLS (SNI) and TCP rules of a VirtualService: (rule, path, the VirtualService's hosts) -> findings.
import type { VirtualServiceSpec } from '../api/virtualservice.ts';
import { checkIpOrCidr } from './common.ts';
import { checkWildcardDomain, hostSubsetOf, isIpAddress } from './networking-common.ts';
import { at } from './result.ts';
import type { Findings } from './result.ts';
import { checkDestination, checkMatchSource, checkWeights } from './virtualservice-dest.ts';

export type TLSRoute = NonNullable<VirtualServiceSpec['tls']>[number];
export type TCPRoute = NonNullable<VirtualServiceSpec['tcp']>[number];
type L4Match = NonNullable<TCPRoute['match']>[number] & { sniHosts?: string[] };

export function validateTlsRoute(r: TLSRoute, path: string, hosts: readonly string[], f: Findings): void {
  if (!r.match || r.match.length === 0) f.error(at(path, 'match'), 'a TLS route needs at least one match with sniHosts');
  (r.match ?? []).forEach((m, j) => {
    const p = at(path, 'match', j);
    if (!m.sniHosts || m.sniHosts.length === 0) f.error(at(p, 'sniHosts'), 'a TLS match needs at least one SNI host');
    (m.sniHosts ?? []).forEach((sni, k) => checkSniHost(sni, at(p, 'sniHosts', k), hosts, f));
    checkL4Match(m, p, f);
  });
  checkL4Destinations(r.route, path, 'TLS', f);
}

export function validateTcpRoute(r: TCPRoute, path: string, f: Findings): void {
  (r.match ?? []).forEach((m, j) => {
    const p = at(path, 'match', j);
    checkL4Match(m, p, f);
    if (m.sourceSubnet !== undefined) {
      const err = checkIpOrCidr(m.sourceSubnet);
      if (err) f.error(at(p, 'sourceSubnet'), err);
    }
  });
  checkL4Destinations(r.route, path, 'TCP', f);
}

function checkSniHost(sni: string, path: string, hosts: readonly string[], f: Findings): void {
  if (isIpAddress(sni)) {
    f.warn(path, `SNI host "${sni}" is an IP address, which SNI does not allow and most clients never send`);
    return;
  }
  const err = checkWildcardDomain(sni);
  if (err) {
    f.error(path, err);
    return;
  }
  if (!hosts.some((h) => hostSubsetOf(sni, h))) {
    f.error(path, `SNI host "${sni}" is not covered by any of the VirtualService's hosts [${hosts.join(', ')}]`);
  }
}

function checkL4Match(m: L4Match, path: string, f: Findings): void {
  (m.destinationSubnets ?? []).forEach((s, i) => {
    const err = checkIpOrCidr(s);
    if (err) f.error(at(path, 'destinationSubnets', i), err);
  });
  checkMatchSource(m, path, f);
}

function checkL4Destinations(route: TCPRoute['route'], path: string, kind: string, f: Findings): void {
  if (!route || route.length === 0) {
    f.error(at(path, 'route'), `a ${kind} rule needs at least one route destination`);
    return;
  }
  route.forEach((d, k) => {
    const p = at(path, 'route', k, 'destination');
    if (d.destination) checkDestination(d.destination, p, f);
    else f.error(p, 'destination is required');
  });
  checkWeights(route, at(path, 'route'), f);
}
