// Encodes ProxyConfigs to the same bytes as encodeProxyConfig (src/translate/envoy/proto.ts), remembering the
// bytes of each Envoy resource object: workloads that share an outbound part (src/translate/outbound.ts) hold the
// very same objects, so each shared resource is encoded once per snapshot, with no serialising to find it again.
// In: ProxyConfigs. Out: ProxyBundle bytes without `version`. Entries live as long as their objects (a WeakMap);
// resources must not change once translated (translation never changes an object it has returned). Anything the
// fast path cannot handle goes through encodeProxyConfig, which also gives the precise error for invalid config.
// CachingBundleEncoder seals those bytes into the bundle the ConfigMap holds (src/controllers/proxy-bundle.ts).
import protobuf from 'protobufjs';
import { encodeMessage, encodeProxyConfig } from '../../translate/envoy/proto.ts';
import type { ProxyConfig } from '../../translate/types.ts';
import { type EncodedBundle, sealBundle } from '../proxy-bundle.ts';

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
  /** Per list: an object is only ever encoded as the type of the list it was found in. */
  private readonly encoded = new Map(LISTS.map(([list]) => [list, new WeakMap<object, Uint8Array>()]));
  hits = 0;
  misses = 0;

  encode(pc: ProxyConfig): Uint8Array {
    try {
      const w = protobuf.Writer.create();
      const wl = pc.workload;
      const workload = encodeMessage('weft.v1.Workload', {
        kind: wl.kind, name: wl.name, namespace: wl.namespace, serviceAccount: wl.serviceAccount, labels: wl.labels,
      });
      w.uint32((WORKLOAD_FIELD << 3) | LEN).bytes(workload);
      for (const [list, field, type] of LISTS) {
        const items: unknown = pc[list];
        if (!Array.isArray(items)) return encodeProxyConfig(pc);
        const encoded = this.encoded.get(list)!;
        for (const r of items as unknown[]) {
          if (r === null || typeof r !== 'object') return encodeProxyConfig(pc);
          let bytes = encoded.get(r);
          if (bytes) this.hits++;
          else {
            bytes = encodeMessage(type, r as Record<string, unknown>);
            encoded.set(r, bytes);
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

export interface BundleEncoder {
  encode(pc: ProxyConfig): EncodedBundle;
}

/** encodeBundle (src/controllers/proxy-bundle.ts) with each Envoy resource object encoded once. */
export class CachingBundleEncoder implements BundleEncoder {
  private readonly resources = new ResourceEncoder();

  encode(pc: ProxyConfig): EncodedBundle {
    return sealBundle(this.resources.encode(pc));
  }
}
