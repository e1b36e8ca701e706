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
      // Settings of one traffic-policy level (rule, subset, or port level) that translation does not read.
      const level = (tp: unknown, field: string): void => {
        const p = rec(tp);
        if (set(rec(rec(p.connectionPool).http).http2KeepAlive)) add(at(field, 'connectionPool.http.http2KeepAlive'), 'not supported by weft: no HTTP/2 PING keepalive is sent on upstream connections');
        const lb = rec(p.loadBalancer);
        if (set(lb.zoneAwareLbSetting)) add(at(field, 'loadBalancer.zoneAwareLbSetting'), 'not supported by weft: zone-aware balancing is not applied (localityLbSetting is)');
        if (set(lb.backendUtilization)) add(at(field, 'loadBalancer.backendUtilization'), 'not supported by weft: endpoints are not weighted by their reported utilization');
        if (set(rec(p.outlierDetection).outlierDetectionHttpErrorCodes)) {
          add(at(field, 'outlierDetection.outlierDetectionHttpErrorCodes'), 'not supported by weft: only 5xx responses and connect failures count towards ejection');
        }
      };
      const policy = (tp: unknown, field: string): void => {
        const p = rec(tp);
        if (set(p.tunnel)) add(at(field, 'tunnel'), 'not supported by weft: connections are not tunneled (HTTP CONNECT/POST) to the target host');
        if (set(rec(p.retryBudget).budgetInterval)) add(at(field, 'retryBudget.budgetInterval'), 'not supported by weft: the budget counts active retries, not retries over an interval');
        level(p, field);
        arr(p.portLevelSettings).forEach((ps, i) => level(ps, at(field, 'portLevelSettings', i)));
      };
      policy(spec.trafficPolicy, 'spec.trafficPolicy');
      arr(spec.subsets).forEach((s, i) => policy(rec(s).trafficPolicy, at('spec.subsets', i, 'trafficPolicy')));
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
        if (set(tls.ecdhCurves)) add(at('spec.servers', i, 'tls', 'ecdhCurves'), "not supported by weft: the gateway offers Node's default key exchange groups");
        if (tls.insecureSkipVerify === true) add(at('spec.servers', i, 'tls', 'insecureSkipVerify'), 'not supported by weft: client certificates are still verified against the CA');
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
    // jwtRules[].presence REQUIRED is warned about by the validator (src/validate/requestauthentication.ts).
    case 'RequestAuthentication':
    case 'AuthorizationPolicy':
      targetRefs(spec, add);
      break;
    default:
      break;
  }
  return out;
}

function targetRefs(spec: Obj, add: (field: string, message: string) => void): void {
  for (const f of ['targetRef', 'targetRefs']) {
    if (set(spec[f])) add(`spec.${f}`, 'not enforced by weft: targetRef attaches a policy to waypoints or Gateway API gateways, which weft does not run (use spec.selector)');
  }
}
