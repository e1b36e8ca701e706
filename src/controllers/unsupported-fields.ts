// Fields weft accepts (the schema allows them, the validator passes them) but does not carry out, per kind (pure:
// a resource in, findings out). Each is a WARNING validationMessage WEFT0003 NotSupported naming the field, so
// nothing is silently taken for done. The list comes from comparing the CRD schemas with what src/translate and
// src/model read; when translation learns a field, its entry here goes.
import { CODE_NOT_SUPPORTED } from './conditions.ts';
import { at, type Finding } from '../validate/result.ts';

type Obj = Record<string, unknown>;
const rec = (v: unknown): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const set = (v: unknown): boolean => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);

export interface UnsupportedResource {
  kind?: string;
  spec?: unknown;
}

export function unsupportedFields(obj: UnsupportedResource): Finding[] {
  const out: Finding[] = [];
  const add = (field: string, message: string): void => void out.push({ field, message, code: CODE_NOT_SUPPORTED });
  const spec = rec(obj.spec);
  switch (obj.kind) {
    case 'VirtualService':
      arr(spec.http).forEach((r, i) => {
        const fault = rec(rec(r).fault);
        if (set(rec(fault.delay).exponentialDelay)) add(at('spec.http', i, 'fault.delay.exponentialDelay'), 'not supported by weft: no delay is injected for it (use fixedDelay)');
        if (set(rec(fault.abort).http2Error)) add(at('spec.http', i, 'fault.abort.http2Error'), 'not supported by weft: no abort is injected for it (use httpStatus or grpcStatus)');
      });
      for (const section of ['tcp', 'tls'] as const) {
        arr(spec[section]).forEach((r, i) =>
          arr(rec(r).match).forEach((m, j) => {
            if (set(rec(m).sourceSubnet)) add(at('spec', section, i, 'match', j, 'sourceSubnet'), 'not supported by weft: the match ignores the source address');
          }),
        );
      }
      break;
    case 'DestinationRule': {
      const tunnel = (tp: unknown, field: string): void => {
        if (set(rec(tp).tunnel)) add(at(field, 'tunnel'), 'not supported by weft: connections are not tunneled (HTTP CONNECT/POST) to the target host');
      };
      tunnel(spec.trafficPolicy, 'spec.trafficPolicy');
      arr(spec.subsets).forEach((s, i) => tunnel(rec(s).trafficPolicy, at('spec.subsets', i, 'trafficPolicy')));
      break;
    }
    case 'Gateway':
      arr(spec.servers).forEach((s, i) => {
        const server = rec(s);
        if (set(server.bind)) add(at('spec.servers', i, 'bind'), 'not supported by weft: the gateway listens on every address of its pod');
        if (set(server.defaultEndpoint)) add(at('spec.servers', i, 'defaultEndpoint'), 'not supported by weft: traffic is routed by VirtualServices only');
        const tls = rec(server.tls);
        for (const f of ['verifyCertificateSpki', 'verifyCertificateHash']) {
          if (set(tls[f])) add(at('spec.servers', i, 'tls', f), 'not supported by weft: client certificates are verified against the CA only, not pinned');
        }
      });
      break;
    case 'ServiceEntry':
      arr(spec.endpoints).forEach((e, i) => {
        if (set(rec(e).network)) add(at('spec.endpoints', i, 'network'), 'not supported by weft: weft runs one network, the endpoint is reached directly');
      });
      break;
    case 'WorkloadEntry':
      if (set(spec.network)) add('spec.network', 'not supported by weft: weft runs one network, the workload is reached directly');
      break;
    case 'AuthorizationPolicy':
    case 'RequestAuthentication':
      for (const f of ['targetRef', 'targetRefs']) {
        if (set(spec[f])) add(`spec.${f}`, 'not enforced by weft: targetRef attaches a policy to waypoints or Gateway API gateways, which weft does not run (use spec.selector)');
      }
      break;
    default:
      break;
  }
  return out;
}
