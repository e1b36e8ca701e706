// A workload's ProxyConfig as its ConfigMap stores it (format in src/translate/envoy/bundle-format.ts): the encoded
// weft.v1.ProxyBundle carrying its version (hex SHA-256 of the bundle without it), the hash annotation (hex
// SHA-256 of those bytes) and, only when a write is due, the gzip of the bytes. The same steps as
// packProxyConfig (src/controllers/proxy-bundle.ts), split so that unchanged config is never gzipped.
// gzip is deterministic: a fixed level and node:zlib's header without a timestamp (mtime 0), so equal bytes give
// equal ConfigMap data; the hash is taken before gzip anyway.
import { gzipSync } from 'node:zlib';
import { encodeProxyConfig, withVersion } from '../../translate/envoy/proto.ts';
import type { ProxyConfig } from '../../translate/types.ts';
import { sha256Hex } from '../proxy-bundle.ts';
import { ResourceEncoder } from './encoder.ts';

export interface EncodedBundle {
  bytes: Uint8Array;
  hash: string;
}

/** Throws ProxyConfigError when the config does not encode (an Envoy field or enum that does not exist). */
export function encodeBundle(pc: ProxyConfig): EncodedBundle {
  const body = encodeProxyConfig(pc);
  const bytes = withVersion(body, sha256Hex(body));
  return { bytes, hash: sha256Hex(bytes) };
}

export interface BundleEncoder {
  encode(pc: ProxyConfig): EncodedBundle;
}

/** encodeBundle with each distinct Envoy resource encoded once (see encoder.ts). */
export class CachingBundleEncoder implements BundleEncoder {
  private readonly resources = new ResourceEncoder();

  encode(pc: ProxyConfig): EncodedBundle {
    const body = this.resources.encode(pc);
    const bytes = withVersion(body, sha256Hex(body));
    return { bytes, hash: sha256Hex(bytes) };
  }
}

/** Fastest zlib level: the bundles compress ~10× at any level, and CPU, not bytes, bounds the operator. */
export const GZIP_LEVEL = 1;

export function gzipBundle(bytes: Uint8Array): Buffer {
  return gzipSync(bytes, { level: GZIP_LEVEL });
}
