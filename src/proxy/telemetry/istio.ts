// The sidecar's Telemetry. In: HTTP/TCP records from the handlers, config accept/reject events. Out: Istio's
// standard metrics with Istio's label names (values "unknown" when not known, response_flags "-" when none),
// weft's own config metrics, and the access log. On the hot path the source_* and destination_* label groups
// are rendered once per peer (cached by object, then by value tuple), so a record costs a few string
// concatenations and map lookups.
import type { HttpRecord, PeerInfo, TcpRecord, Telemetry } from '../runtime.ts';
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
  registry?: Registry;
}

export interface SidecarTelemetry extends Telemetry {
  readonly registry: Registry;
  /** /stats/prometheus */
  render(): string;
  /** Count of reloads by kind and result (tests, /stats). */
  reloads(what: 'config' | 'identity', result: 'success' | 'rejected'): number;
  flush(): void;
  close(): void;
}

export function createTelemetry(opts: TelemetryOptions = {}): SidecarTelemetry {
  const registry = opts.registry ?? new Registry();
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
  const version = registry.register(new Gauge('weft_config_version', 'The config and identity in force (value 1; the version is a label).'));

  const byObject = new WeakMap<object, string>();
  const byTuple = new Map<string, string>();
  const cached = (o: object, tuple: string, render: () => string): string => {
    let frag = byObject.get(o);
    if (frag !== undefined) return frag;
    frag = byTuple.get(tuple);
    if (frag === undefined) {
      if (byTuple.size > 10_000) byTuple.clear();
      frag = render();
      byTuple.set(tuple, frag);
    }
    byObject.set(o, frag);
    return frag;
  };
  const clusterOf = (p: PeerInfo) => (p.workload ? clusterId : UNKNOWN);
  const source = (p: PeerInfo): string => cached(p, `${p.workload}\u0001${p.namespace}\u0001${p.app}\u0001${p.version}\u0001${p.principal}`, () =>
    renderLabels(SOURCE_LABELS, [
      p.workload ?? UNKNOWN, p.app ?? p.workload ?? UNKNOWN, p.version ?? (p.workload ? 'latest' : UNKNOWN), p.namespace ?? UNKNOWN,
      p.principal ?? UNKNOWN, p.app ?? UNKNOWN, p.version ?? UNKNOWN, clusterOf(p),
    ]));
  const destination = (p: Destination): string => {
    const s = p.service;
    return cached(p, `${p.workload}\u0001${p.namespace}\u0001${p.app}\u0001${p.version}\u0001${p.principal}\u0001${s?.host}\u0001${s?.name}\u0001${s?.namespace}`, () =>
      renderLabels(DESTINATION_LABELS, [
        p.workload ?? UNKNOWN, p.namespace ?? UNKNOWN, p.principal ?? UNKNOWN, p.app ?? UNKNOWN, p.version ?? UNKNOWN,
        s?.host ?? UNKNOWN, p.app ?? s?.name ?? p.workload ?? UNKNOWN, p.version ?? (p.workload ? 'latest' : UNKNOWN),
        s?.name ?? UNKNOWN, s?.namespace ?? UNKNOWN, clusterOf(p),
      ]));
  };

  return {
    registry,
    http(r) {
      const key = `reporter="${r.reporter}",${source(r.source)},${destination(r.destination)},request_protocol="${r.requestProtocol}",`
        + `response_code="${r.status}",grpc_response_status="${escapeLabel(r.grpcStatus ?? '')}",response_flags="${formatFlags(r.flags)}",`
        + `connection_security_policy="${r.connectionSecurityPolicy}"`;
      const labels = () => key;
      requests.add(key, labels);
      duration.observe(key, labels, r.durationMs);
      reqBytes.observe(key, labels, r.requestBytes);
      resBytes.observe(key, labels, r.responseBytes);
      log?.write(httpLogLine(r));
    },
    tcpOpen(r) {
      const key = tcpKey(r, source, destination);
      const labels = () => key;
      tcpOpened.add(key, labels);
      if (r.sentBytes) tcpSent.add(key, labels, r.sentBytes);
      if (r.receivedBytes) tcpReceived.add(key, labels, r.receivedBytes);
    },
    tcpClose(r) {
      const key = tcpKey(r, source, destination);
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
    render: () => registry.render(),
    reloads: (what, result) => reloads.value(`kind="${what}",result="${result}"`) ?? 0,
    flush: () => log?.flush(),
    close: () => log?.close(),
  };
}

function tcpKey(r: TcpRecord, source: (p: PeerInfo) => string, destination: (p: Destination) => string): string {
  return `reporter="${r.reporter}",${source(r.source)},${destination(r.destination)},request_protocol="tcp",`
    + `response_flags="${formatFlags(r.flags)}",connection_security_policy="${r.connectionSecurityPolicy}"`;
}
