// validateVirtualService: a VirtualService as the API server stores it -> {errors, warnings}.
// Implements Istio's semantic rules for the kind plus every CEL rule of crds/networking.istio.io_virtualservices.yaml
// (same messages), so `weftctl validate` offline and the admission webhook agree with the API server.
import type { VirtualService } from '../api/virtualservice.ts';
import { checkExportTo, checkWildcardDomain, hostsOverlap, isIpAddress } from './networking-common.ts';
import { at, Findings } from './result.ts';
import type { ValidationResult } from './result.ts';
import { checkGatewayRefs } from './virtualservice-dest.ts';
import { validateHttpRoute } from './virtualservice-http.ts';
import { validateTcpRoute, validateTlsRoute } from './virtualservice-l4.ts';
import { analyzeHttpReachability, analyzeTcpReachability, analyzeTlsReachability } from './virtualservice-reachability.ts';

/** Messages shared with the spec-level CEL rules of the CRD (keep identical). */
export const SPEC_CEL = {
  routes: 'at least one of http, tcp or tls routes must be given',
  delegateGateways: 'a VirtualService without hosts is a delegate and must not list gateways',
  delegateL4: 'a VirtualService without hosts is a delegate and may only have http routes',
  wildcardMesh: 'the wildcard host "*" is only allowed when the VirtualService is bound to gateways and not to the mesh',
} as const;

export function validateVirtualService(obj: VirtualService): ValidationResult {
  const f = new Findings();
  const spec = obj.spec ?? {};
  const hosts = spec.hosts ?? [];
  const gateways = spec.gateways ?? [];
  const http = spec.http ?? [];
  const tls = spec.tls ?? [];
  const tcp = spec.tcp ?? [];
  const isDelegate = hosts.length === 0;
  // A VirtualService applies to the mesh unless it lists gateways without the reserved `mesh`.
  const gatewayOnly = gateways.length > 0 && !gateways.includes('mesh');

  if (http.length === 0 && tls.length === 0 && tcp.length === 0) f.error('spec', SPEC_CEL.routes);
  if (isDelegate) {
    if (gateways.length > 0) f.error('spec.gateways', SPEC_CEL.delegateGateways);
    if (tls.length > 0 || tcp.length > 0) f.error(tls.length > 0 ? 'spec.tls' : 'spec.tcp', SPEC_CEL.delegateL4);
  }

  checkGatewayRefs(gateways, 'spec.gateways', f);
  checkHosts(hosts, gatewayOnly, f);
  checkExportTo(spec.exportTo ?? [], obj.metadata?.namespace, (i, msg) => f.error(i < 0 ? 'spec.exportTo' : at('spec.exportTo', i), msg));

  http.forEach((r, i) => validateHttpRoute(r, at('spec.http', i), { isDelegate, gatewayOnly }, f));
  tls.forEach((r, i) => validateTlsRoute(r, at('spec.tls', i), hosts, f));
  tcp.forEach((r, i) => validateTcpRoute(r, at('spec.tcp', i), f));

  analyzeHttpReachability(http, 'spec.http', f);
  analyzeTlsReachability(tls, 'spec.tls', f);
  analyzeTcpReachability(tcp, 'spec.tcp', f);
  return f.result();
}

function checkHosts(hosts: readonly string[], gatewayOnly: boolean, f: Findings): void {
  let allValid = true;
  hosts.forEach((h, i) => {
    const path = at('spec.hosts', i);
    if (h === '*' && !gatewayOnly) {
      f.error(path, SPEC_CEL.wildcardMesh);
      allValid = false;
      return;
    }
    // IP addresses are accepted as hosts (they only make sense for gateway-bound rules).
    const err = isIpAddress(h) ? undefined : checkWildcardDomain(h);
    if (err) {
      f.error(path, err);
      allValid = false;
    }
  });
  if (!allValid) return;
  for (let i = 0; i < hosts.length; i++) {
    for (let j = i + 1; j < hosts.length; j++) {
      if (hostsOverlap(hosts[i]!, hosts[j]!)) f.error(at('spec.hosts', j), `duplicate host: "${hosts[j]}" overlaps "${hosts[i]}" in the same VirtualService`);
    }
  }
}
