// DestinationRule traffic policies: a TrafficPolicy (rule level, subset level) in, findings out under its path.
// Load balancer (and locality settings), connection pool, outlier detection, upstream TLS, per-port
// settings, tunnel, PROXY protocol, retry budget. Mirrors the CRD's CEL rules for the offline path.
import type { DestinationRuleSpec } from '../api/destinationrule.ts';
import { checkDuration, isObject } from './common.ts';
import { checkFqdn, checkMsDuration, isIpAddress } from './networking-common.ts';
import { at } from './result.ts';
import type { Findings } from './result.ts';
import { checkLocalityLbSetting } from './locality.ts';

export type TrafficPolicy = NonNullable<DestinationRuleSpec['trafficPolicy']>;
type LoadBalancer = NonNullable<TrafficPolicy['loadBalancer']>;
type ConnectionPool = NonNullable<TrafficPolicy['connectionPool']>;
type OutlierDetection = NonNullable<TrafficPolicy['outlierDetection']>;
type ClientTls = NonNullable<TrafficPolicy['tls']>;
type PortTrafficPolicy = NonNullable<TrafficPolicy['portLevelSettings']>[number];

/** Maglev tables must be prime and below this bound (the proxy's limit). */
const MAGLEV_MAX = 5000011;

export function checkTrafficPolicy(p: TrafficPolicy, path: string, f: Findings): void {
  if (!isObject(p)) return;
  const parts = ['loadBalancer', 'connectionPool', 'outlierDetection', 'tls', 'portLevelSettings', 'tunnel', 'proxyProtocol', 'retryBudget'] as const;
  if (!parts.some((k) => p[k] !== undefined)) {
    f.error(path, `traffic policy must have at least one field (${parts.join(', ')})`);
    return;
  }
  if (p.tunnel !== undefined && p.proxyProtocol !== undefined) {
    f.error(at(path, 'tunnel'), 'tunnel and proxyProtocol must not be set together');
  }
  checkPolicyParts(p, path, f);
  checkPortLevelSettings(p.portLevelSettings, at(path, 'portLevelSettings'), f);
  if (p.tunnel) checkTunnel(p.tunnel, at(path, 'tunnel'), f);
  if (p.retryBudget?.percent !== undefined && !(p.retryBudget.percent >= 0 && p.retryBudget.percent <= 100)) {
    f.error(at(path, 'retryBudget', 'percent'), `percent must be between 0 and 100 (got ${p.retryBudget.percent})`);
  }
}

/** The four parts a port-level policy shares with the rule level. */
function checkPolicyParts(p: TrafficPolicy | PortTrafficPolicy, path: string, f: Findings): void {
  if (p.outlierDetection) checkOutlierDetection(p.outlierDetection, at(path, 'outlierDetection'), f);
  if (p.connectionPool) checkConnectionPool(p.connectionPool, at(path, 'connectionPool'), f);
  if (p.loadBalancer) checkLoadBalancer(p.loadBalancer, at(path, 'loadBalancer'), f, p.outlierDetection !== undefined);
  if (p.tls) checkClientTls(p.tls, at(path, 'tls'), f);
}

function checkPortLevelSettings(list: TrafficPolicy['portLevelSettings'], path: string, f: Findings): void {
  if (!Array.isArray(list)) return;
  const seen = new Map<number, number>();
  list.forEach((pl, i) => {
    const p = at(path, i);
    if (!isObject(pl)) return;
    const n = pl.port?.number;
    if (n === undefined) {
      f.error(at(p, 'port'), 'portLevelSettings entries must have a port (port.number)');
    } else if (!Number.isInteger(n) || n < 1 || n > 65535) {
      f.error(at(p, 'port', 'number'), `port must be between 1-65535 (got ${n})`);
    } else if (seen.has(n)) {
      f.error(at(p, 'port', 'number'), `port ${n} already has settings in ${at(path, seen.get(n)!)}; merge them into one entry`);
    } else {
      seen.set(n, i);
    }
    if (!pl.loadBalancer && !pl.connectionPool && !pl.outlierDetection && !pl.tls) {
      f.error(p, 'port traffic policy must have at least one field (loadBalancer, connectionPool, outlierDetection, tls)');
      return;
    }
    checkPolicyParts(pl, p, f);
  });
}

function checkLoadBalancer(lb: LoadBalancer, path: string, f: Findings, hasOutlierDetection: boolean): void {
  if (lb.simple !== undefined && lb.consistentHash !== undefined) {
    f.error(path, 'only one of simple or consistentHash may be set');
  }
  if (lb.backendUtilization !== undefined && (lb.simple !== undefined || lb.consistentHash !== undefined)) {
    f.error(path, 'backendUtilization cannot be set together with simple or consistentHash');
  }
  const ch = lb.consistentHash;
  if (ch) {
    const p = at(path, 'consistentHash');
    const keys = (['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'] as const).filter((k) => ch[k] !== undefined);
    if (keys.length > 1) {
      f.error(p, `only one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName may be set (found ${keys.join(', ')})`);
    } else if (keys.length === 0) {
      f.warn(p, 'consistentHash has no hash key (httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName), so requests do not stick to an endpoint');
    }
    if (ch.httpCookie) {
      if (!ch.httpCookie.name) f.error(at(p, 'httpCookie', 'name'), 'name required for httpCookie');
      dur(ch.httpCookie.ttl, at(p, 'httpCookie', 'ttl'), f, '0s');
    }
    if (ch.ringHash !== undefined && ch.maglev !== undefined) f.error(p, 'only one of ringHash or maglev may be set');
    if (ch.minimumRingSize) {
      f.warn(at(p, 'minimumRingSize'), 'consistentHash.minimumRingSize is deprecated; use consistentHash.ringHash.minimumRingSize');
      if (ch.ringHash !== undefined || ch.maglev !== undefined) {
        f.error(at(p, 'minimumRingSize'), 'only one of minimumRingSize or ringHash/maglev may be set');
      }
    }
    if (ch.maglev !== undefined) {
      const size = ch.maglev.tableSize ?? 0;
      const sp = at(p, 'maglev', 'tableSize');
      if (size === 0) f.error(sp, 'tableSize must be set for maglev (a prime below 5000011, e.g. 65537)');
      else if (size >= MAGLEV_MAX) f.error(sp, `tableSize must be less than ${MAGLEV_MAX} for maglev (got ${size})`);
      else if (!isPrime(size)) f.error(sp, `tableSize must be a prime number for maglev (got ${size}; e.g. 65537)`);
    }
  }
  if (lb.localityLbSetting) checkLocalityLbSetting(lb.localityLbSetting, at(path, 'localityLbSetting'), f, hasOutlierDetection);
  if (lb.warmupDurationSecs !== undefined) {
    msDur(lb.warmupDurationSecs, at(path, 'warmupDurationSecs'), f);
    f.warn(at(path, 'warmupDurationSecs'), lb.warmup ? 'warmupDurationSecs is deprecated and ignored because warmup is set' : 'warmupDurationSecs is deprecated; use warmup.duration');
  }
  if (lb.warmup) {
    const w = lb.warmup;
    if (w.duration === undefined) f.error(at(path, 'warmup', 'duration'), 'Required value: warmup needs a duration');
    else msDur(w.duration, at(path, 'warmup', 'duration'), f);
    if (w.minimumPercent !== undefined && !(w.minimumPercent >= 0 && w.minimumPercent <= 100)) {
      f.error(at(path, 'warmup', 'minimumPercent'), `minimumPercent must be between 0 and 100 (got ${w.minimumPercent})`);
    }
    if (w.aggression !== undefined && !(w.aggression >= 0)) f.error(at(path, 'warmup', 'aggression'), `aggression must not be negative (got ${w.aggression})`);
  }
  if ((lb.warmup || lb.warmupDurationSecs) && (lb.consistentHash || ['RANDOM', 'LEAST_CONN', 'PASSTHROUGH'].includes(lb.simple ?? ''))) {
    f.warn(path, 'warmup only applies to the ROUND_ROBIN and LEAST_REQUEST load balancers');
  }
}

function checkConnectionPool(cp: ConnectionPool, path: string, f: Findings): void {
  if (!cp.tcp && !cp.http) {
    f.error(path, 'connection pool must have at least one field (tcp, http)');
    return;
  }
  if (cp.http) {
    const h = cp.http;
    const p = at(path, 'http');
    for (const k of ['http1MaxPendingRequests', 'http2MaxRequests', 'maxRequestsPerConnection', 'maxRetries', 'maxConcurrentStreams'] as const) {
      nonNegative(h[k], at(p, k), f);
    }
    msDur(h.idleTimeout, at(p, 'idleTimeout'), f);
    if (h.h2UpgradePolicy === 'UPGRADE' && h.useClientProtocol) {
      f.error(at(p, 'useClientProtocol'), 'useClientProtocol must not be true when h2UpgradePolicy is UPGRADE');
    }
  }
  if (cp.tcp) {
    const t = cp.tcp;
    const p = at(path, 'tcp');
    nonNegative(t.maxConnections, at(p, 'maxConnections'), f);
    msDur(t.connectTimeout, at(p, 'connectTimeout'), f);
    msDur(t.maxConnectionDuration, at(p, 'maxConnectionDuration'), f);
    dur(t.idleTimeout, at(p, 'idleTimeout'), f, '0s'); // 0s turns the idle timeout off
    if (t.tcpKeepalive) {
      msDur(t.tcpKeepalive.time, at(p, 'tcpKeepalive', 'time'), f);
      msDur(t.tcpKeepalive.interval, at(p, 'tcpKeepalive', 'interval'), f);
    }
  }
}

function checkOutlierDetection(od: OutlierDetection, path: string, f: Findings): void {
  msDur(od.baseEjectionTime, at(path, 'baseEjectionTime'), f);
  msDur(od.interval, at(path, 'interval'), f);
  if (od.consecutiveErrors) {
    f.warn(at(path, 'consecutiveErrors'), 'consecutiveErrors is deprecated; use consecutiveGatewayErrors or consecutive5xxErrors');
  }
  if (!od.splitExternalLocalOriginErrors && (od.consecutiveLocalOriginFailures ?? 0) > 0) {
    f.error(at(path, 'consecutiveLocalOriginFailures'), 'consecutiveLocalOriginFailures takes effect only with splitExternalLocalOriginErrors: true');
  }
  for (const k of ['maxEjectionPercent', 'minHealthPercent'] as const) {
    const v = od[k];
    if (v !== undefined && !(v >= 0 && v <= 100)) f.error(at(path, k), `percentage ${v} is not in range 0..100`);
  }
}

function checkClientTls(tls: ClientTls, path: string, f: Findings): void {
  const mode = tls.mode ?? 'DISABLE';
  if (tls.insecureSkipVerify) {
    if (mode === 'SIMPLE' && (tls.caCertificates || tls.credentialName || tls.subjectAltNames)) {
      f.error(at(path, 'insecureSkipVerify'), 'cannot specify caCertificates, credentialName or subjectAltNames when insecureSkipVerify is true');
    }
    if (mode === 'MUTUAL' && (tls.caCertificates || tls.subjectAltNames)) {
      f.error(at(path, 'insecureSkipVerify'), 'cannot specify caCertificates or subjectAltNames when insecureSkipVerify is true');
    }
  }
  if ((mode === 'SIMPLE' || mode === 'MUTUAL') && tls.credentialName) {
    if (tls.clientCertificate || tls.privateKey || tls.caCertificates || tls.caCrl) {
      f.error(at(path, 'credentialName'), 'cannot specify clientCertificate, privateKey, caCertificates or caCrl when credentialName is set (the secret holds them)');
    }
    return;
  }
  if (mode === 'MUTUAL') {
    if (!tls.clientCertificate) f.error(at(path, 'clientCertificate'), 'client certificate required for mutual tls (or set credentialName)');
    if (!tls.privateKey) f.error(at(path, 'privateKey'), 'private key required for mutual tls (or set credentialName)');
  }
  if (mode === 'ISTIO_MUTUAL') {
    const set = (['clientCertificate', 'privateKey', 'caCertificates', 'credentialName', 'caCrl'] as const).filter((k) => tls[k]);
    if (set.length > 0) f.warn(path, `ISTIO_MUTUAL uses the mesh's workload certificates; ${set.join(', ')} ${set.length > 1 ? 'are' : 'is'} ignored`);
  }
}

function checkTunnel(t: NonNullable<TrafficPolicy['tunnel']>, path: string, f: Findings): void {
  if (t.protocol !== undefined && t.protocol !== '' && t.protocol !== 'CONNECT' && t.protocol !== 'POST') {
    f.error(at(path, 'protocol'), `tunnel protocol must be "CONNECT" or "POST" (got "${t.protocol}")`);
  }
  if (!t.targetHost) f.error(at(path, 'targetHost'), 'Required value: the host the tunnel leads to');
  else if (!isIpAddress(t.targetHost) && checkFqdn(t.targetHost)) {
    f.error(at(path, 'targetHost'), `tunnel target host must be a valid FQDN or IP address (got "${t.targetHost}")`);
  }
  if (t.targetPort === undefined) f.error(at(path, 'targetPort'), 'Required value: the port the tunnel leads to');
  else if (!Number.isInteger(t.targetPort) || t.targetPort < 1 || t.targetPort > 65535) {
    f.error(at(path, 'targetPort'), `tunnel target port must be between 1-65535 (got ${t.targetPort})`);
  }
}

/** Durations the CRD requires to be >= 1ms (CEL); Istio also wants whole milliseconds. */
function msDur(v: unknown, path: string, f: Findings): void {
  if (v === undefined) return;
  const e = checkMsDuration(v);
  if (e) f.error(path, e);
}

function dur(v: unknown, path: string, f: Findings, min: string): void {
  if (v === undefined) return;
  const e = checkDuration(v, min);
  if (e) f.error(path, e);
}

function nonNegative(v: number | undefined, path: string, f: Findings): void {
  if (v !== undefined && v < 0) f.error(path, `must be non-negative (got ${v})`);
}

/** Trial division, as the proxy checks Maglev table sizes. */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n < 4) return true;
  if (n % 2 === 0) return false;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

