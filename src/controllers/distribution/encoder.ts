// Encodes ProxyConfigs to the same bytes as encodeProxyConfig (src/translate/envoy/proto.ts), remembering each
// encoded Envoy resource: workloads of one namespace share most of their outbound clusters, endpoints and
// routes, and most resources survive a change elsewhere, so each distinct resource is encoded once.
// In: ProxyConfigs. Out: ProxyBundle bytes without `version`. Keyed by the SHA-256 of the resource's JSON, so
// only an equal object reuses bytes; anything the fast path cannot handle goes through encodeProxyConfig (which
// also gives the precise error for invalid config). The least recently used entries go past `maxBytes`.
import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import { encodeMessage, encodeProxyConfig } from '../../translate/envoy/proto.ts';
import type { ProxyConfig } from '../../translate/types.ts';

/** weft.v1.ProxyBundle's fields, in the order protobufjs writes them (proto/weft/v1/bundle.proto). */
const WORKLOAD_FIELD = 1;
const LISTS = [
  ['listeners', 2, 'envoy.config.listener.v3.Listener'],
  ['routes', 3, 'envoy.config.route.v3.RouteConfiguration'],
  ['clusters', 4, 'envoy.config.cluster.v3.Cluster'],
  ['endpoints', 5, 'envoy.config.endpoint.v3.ClusterLoadAssignment'],
] as const;
const INPUTS_FIELD = 6;
const LEN = 2;

export class ResourceEncoder {
  /** Insertion order is recency: a hit moves its entry to the end. */
  private readonly cache = new Map<string, Uint8Array>();
  private size = 0;
  private readonly maxBytes: number;
  hits = 0;
  misses = 0;

  constructor(maxBytes = 32 * 2 ** 20) {
    this.maxBytes = maxBytes;
  }

  private lookup(key: string): Uint8Array | undefined {
    const b = this.cache.get(key);
    if (b) {
      this.cache.delete(key);
      this.cache.set(key, b);
    }
    return b;
  }

  private remember(key: string, bytes: Uint8Array): void {
    this.cache.set(key, bytes);
    this.size += bytes.length;
    for (const [k, b] of this.cache) {
      if (this.size <= this.maxBytes) break;
      this.cache.delete(k);
      this.size -= b.length;
    }
  }

  encode(pc: ProxyConfig): Uint8Array {
    try {
      const w = protobuf.Writer.create();
      const wl = pc.workload;
      const workload = encodeMessage('weft.v1.Workload', {
        kind: wl.kind, name: wl.name, namespace: wl.namespace, serviceAccount: wl.serviceAccount, labels: wl.labels,
      });
      w.uint32((WORKLOAD_FIELD << 3) | LEN).bytes(workload);
      for (const [list, field, type] of LISTS) {
        const items = pc[list];
        if (!Array.isArray(items)) return encodeProxyConfig(pc);
        for (const r of items) {
          const key = createHash('sha256').update(`${field}${JSON.stringify(r)}`).digest('base64');
          let bytes = this.lookup(key);
          if (bytes) this.hits++;
          else {
            bytes = encodeMessage(type, r);
            this.remember(key, bytes);
            this.misses++;
          }
          w.uint32((field << 3) | LEN).bytes(bytes);
        }
      }
      for (const s of pc.inputs) w.uint32((INPUTS_FIELD << 3) | LEN).string(s);
      return w.finish();
    } catch {
      return encodeProxyConfig(pc);
    }
  }
}
