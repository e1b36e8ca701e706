// The sidecar's Telemetry. In: HTTP/TCP records from the handlers, config accept/reject events. Out: Istio's
// standard metrics with Istio's label names (values "unknown" when not known, response_flags "-" when none),
// weft's own config metrics, and the access log. On the hot path the source_* and destination_* label groups
// and each series' label string are rendered once and found again by the record's values, so a record costs a
// few map lookups (well under a microsecond without the access log).
import type { AuthzRecord, HttpRecord, PeerInfo, TcpRecord, Telemetry } from '../runtime.ts';
import { formatFlags, httpLogLine, tcpLogLine } from './access-log.ts';
import type { LineWriter } from './access-log.ts';
import { Counter, escapeLabel, Gauge, Histogram, Registry, renderLabels } from './registry.ts';

/** Envoy's default histogram bounds, which Istio's duration histogram uses (milliseconds). */
export const DURATION_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
/** Istio's size distributions: exponential, scale 1, growth factor 10, 8 finite buckets. */
export const SIZE_BUCKETS_BYTES = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000];

export const SOURCE_LABELS = [
  'source_workload', 'source_canonical_service', 'source_canonical_revision', 'source_workload_namespace',
  'source_principal', 'source_app', 'source_version', 'source_cluster',
] as const;
export const DESTINATION_LABELS = [
  'destination_workload', 'destination_workload_namespace', 'destination_principal', 'destination_app',
  'destination_version', 'destination_service', 'destination_canonical_service', 'destination_canonical_revision',
  'destination_service_name', 'destination_service_namespace', 'destination_cluster',
] as const;

const UNKNOWN = 'unknown';
type Destination = HttpRecord['destination'];

export interface TelemetryOptions {
  /** Where access log lines go; undefined = no access log. */
  accessLog?: LineWriter;
  /** The cluster id for source_cluster/destination_cluster of known workloads (Istio's default "Kubernetes"). */
  clusterId?: string;
}

export interface SidecarTelemetry extends Telemetry {
  /** /stats/prometheus */
  render(): string;
  /** Count of reloads by kind and result (what weft_config_reloads_total shows). */
  reloads(what: 'config' | 'identity', result: 'success' | 'rejected'): number;
  /** Writes out the buffered access log. */
  close(): void;
}

export function createTelemetry(opts: TelemetryOptions = {}): SidecarTelemetry {
  const registry = new Registry();
  const clusterId = opts.clusterId ?? 'Kubernetes';
  const log = opts.accessLog;
  const requests = registry.register(new Counter('istio_requests_total', 'Requests handled by the proxy.'));
  const duration = registry.register(new Histogram('istio_request_duration_milliseconds', 'Request duration in milliseconds.', DURATION_BUCKETS_MS));
  const reqBytes = registry.register(new Histogram('istio_request_bytes', 'Request body sizes in bytes.', SIZE_BUCKETS_BYTES));
  const resBytes = registry.register(new Histogram('istio_response_bytes', 'Response body sizes in bytes.', SIZE_BUCKETS_BYTES));
  const tcpSent = registry.register(new Counter('istio_tcp_sent_bytes_total', 'Bytes sent to the downstream on TCP connections.'));
  const tcpReceived = registry.register(new Counter('istio_tcp_received_bytes_total', 'Bytes received from the downstream on TCP connections.'));
  const tcpOpened = registry.register(new Counter('istio_tcp_connections_opened_total', 'TCP connections opened.'));
  const tcpClosed = registry.register(new Counter('istio_tcp_connections_closed_total', 'TCP connections closed.'));
  const reloads = registry.register(new Counter('weft_config_reloads_total', 'Config and identity versions loaded or rejected (rejected ones leave the last good version in force).'));
  const authz = registry.register(new Counter('weft_authz_decisions_total', 'Authorization decisions of the RBAC and ext_authz filters (dry_run: shadow rules, not enforced).'));
  const version = registry.register(new Gauge('weft_config_version', 'The config and identity in force (value 1; the version is a label).'));

  // Label strings are found through trees of Maps keyed by the record's own values (short strings and numbers
  // whose hashes V8 keeps), never by a freshly built long key: one record costs a handful of lookups, and the
  // 700-character label string of a series is built once.
  const peers = new Tree();
  const series = new Tree();
  const authzKeys = new AuthzKeys();
  const clusterOf = (p: PeerInfo) => (p.workload ? clusterId : UNKNOWN);
  const source = (p: PeerInfo): string => peers.get(['s', p.workload, p.namespace, p.app, p.version, p.principal], () =>
    renderLabels(SOURCE_LABELS, [
      p.workload ?? UNKNOWN, p.app ?? p.workload ?? UNKNOWN, p.version ?? (p.workload ? 'latest' : UNKNOWN), p.namespace ?? UNKNOWN,
      p.principal ?? UNKNOWN, p.app ?? UNKNOWN, p.version ?? UNKNOWN, clusterOf(p),
    ]));
  const destination = (p: Destination): string => {
    const s = p.service;
    return peers.get(['d', p.workload, p.namespace, p.app, p.version, p.principal, s?.host, s?.name, s?.namespace], () =>
      renderLabels(DESTINATION_LABELS, [
        p.workload ?? UNKNOWN, p.namespace ?? UNKNOWN, p.principal ?? UNKNOWN, p.app ?? UNKNOWN, p.version ?? UNKNOWN,
        s?.host ?? UNKNOWN, p.app ?? s?.name ?? p.workload ?? UNKNOWN, p.version ?? (p.workload ? 'latest' : UNKNOWN),
        s?.name ?? UNKNOWN, s?.namespace ?? UNKNOWN, clusterOf(p),
      ]));
  };
  const httpKey = (r: HttpRecord): string => {
    const src = source(r.source);
    const dst = destination(r.destination);
    const flags = formatFlags(r.flags);
    return series.get([src, dst, r.reporter, r.requestProtocol, r.status, r.grpcStatus, flags, r.connectionSecurityPolicy], () =>
      `reporter="${r.reporter}",${src},${dst},request_protocol="${r.requestProtocol}",response_code="${r.status}",`
      + `grpc_response_status="${escapeLabel(r.grpcStatus ?? '')}",response_flags="${flags}",connection_security_policy="${r.connectionSecurityPolicy}"`);
  };
  const tcpKey = (r: TcpRecord): string => {
    const src = source(r.source);
    const dst = destination(r.destination);
    const flags = formatFlags(r.flags);
    return series.get([src, dst, r.reporter, 'tcp', flags, r.connectionSecurityPolicy], () =>
      `reporter="${r.reporter}",${src},${dst},request_protocol="tcp",response_flags="${flags}",connection_security_policy="${r.connectionSecurityPolicy}"`);
  };

  return {
    http(r) {
      const key = httpKey(r);
      const labels = () => key;
      requests.add(key, labels);
      duration.observe(key, labels, r.durationMs);
      reqBytes.observe(key, labels, r.requestBytes);
      resBytes.observe(key, labels, r.responseBytes);
      log?.write(httpLogLine(r));
    },
    tcpOpen(r) {
      const key = tcpKey(r);
      const labels = () => key;
      tcpOpened.add(key, labels);
      if (r.sentBytes) tcpSent.add(key, labels, r.sentBytes);
      if (r.receivedBytes) tcpReceived.add(key, labels, r.receivedBytes);
    },
    tcpClose(r) {
      const key = tcpKey(r);
      const labels = () => key;
      tcpClosed.add(key, labels);
      tcpSent.add(key, labels, r.sentBytes);
      tcpReceived.add(key, labels, r.receivedBytes);
      log?.write(tcpLogLine(r));
    },
    configRejected(what) {
      const key = `kind="${what}",result="rejected"`;
      reloads.add(key, () => key);
    },
    configAccepted(what, v) {
      const key = `kind="${what}",result="success"`;
      reloads.add(key, () => key);
      version.delete(what);
      version.set(what, () => renderLabels(['kind', 'version'], [what, v]), 1);
    },
    authz(r) {
      const key = authzKeys.get(r, () => {
        const policy = r.policy ?? 'none';
        const dryRun = r.dryRun ? 'true' : 'false';
        const filter = r.prefix ? `${r.filter}/${r.prefix}` : r.filter;
        return renderLabels(['protocol', 'filter', 'action', 'decision', 'policy', 'dry_run'], [r.protocol, filter, r.action, r.decision, policy, dryRun]);
      });
      authz.add(key, () => key);
    },
    render: () => registry.render(),
    reloads: (what, result) => reloads.value(`kind="${what}",result="${result}"`) ?? 0,
    close: () => log?.close(),
  };
}

const AUTHZ_PROTOCOLS = ['http', 'tcp'] as const;
const AUTHZ_ACTIONS = ['ALLOW', 'DENY', 'LOG', 'CUSTOM'] as const;
const AUTHZ_DECISIONS = ['allowed', 'denied', 'logged'] as const;
const AUTHZ_SLOTS = AUTHZ_PROTOCOLS.length * AUTHZ_ACTIONS.length * AUTHZ_DECISIONS.length * 2;

/** weft_authz_decisions_total label strings by filter, prefix and policy, then a slot for the fixed-choice
 * labels: a decision finds its series without building a string or an array (bounded like Tree). */
class AuthzKeys {
  private root = new Map<string, Map<string | undefined, Map<string | undefined, Array<string | undefined>>>>();
  private size = 0;

  get(r: AuthzRecord, make: () => string): string {
    let byPrefix = this.root.get(r.filter);
    if (!byPrefix) this.root.set(r.filter, (byPrefix = new Map()));
    let byPolicy = byPrefix.get(r.prefix);
    if (!byPolicy) byPrefix.set(r.prefix, (byPolicy = new Map()));
    let slots = byPolicy.get(r.policy);
    if (!slots) {
      if (++this.size > 50_000) {
        this.root = new Map();
        this.size = 0;
        return this.get(r, make);
      }
      byPolicy.set(r.policy, (slots = new Array<string | undefined>(AUTHZ_SLOTS).fill(undefined)));
    }
    const i = ((AUTHZ_PROTOCOLS.indexOf(r.protocol) * AUTHZ_ACTIONS.length + AUTHZ_ACTIONS.indexOf(r.action)) * AUTHZ_DECISIONS.length
      + AUTHZ_DECISIONS.indexOf(r.decision)) * 2 + (r.dryRun ? 1 : 0);
    return (slots[i] ??= make());
  }
}

/** Strings cached under a path of values; cleared when it grows past a bound (label sets follow peers, so a
 * scan of random peers cannot grow memory without limit). */
class Tree {
  private root = new Map<unknown, unknown>();
  private size = 0;

  get(path: readonly unknown[], make: () => string): string {
    let m = this.root;
    const last = path.length - 1;
    for (let i = 0; i < last; i++) {
      let next = m.get(path[i]) as Map<unknown, unknown> | undefined;
      if (!next) m.set(path[i], (next = new Map()));
      m = next;
    }
    let v = m.get(path[last]) as string | undefined;
    if (v === undefined) {
      if (++this.size > 50_000) {
        this.root = new Map();
        this.size = 0;
        return this.get(path, make);
      }
      v = make();
      m.set(path[last], v);
    }
    return v;
  }
}
