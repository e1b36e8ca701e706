// A workload's ProxyConfig ⇄ what its ConfigMap holds (src/translate/envoy/bundle-format.ts): the encoded
// weft.v1.ProxyBundle with its version (hex SHA-256 of the bundle without it), gzipped, and the hash annotation
// (hex SHA-256 of the ungzipped bytes). Hashing and gzip live here, next to the writer, not in pure translate.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CONFIG_HASH_ANNOTATION, PROXY_CONFIG_KEY } from '../translate/envoy/bundle-format.ts';
import { decodeProxyConfig, encodeProxyConfig, withVersion } from '../translate/envoy/proto.ts';
import type { DecodedProxyConfig } from '../translate/envoy/proto.ts';
import type { ProxyConfig } from '../translate/types.ts';

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export interface PackedProxyConfig {
  /** gzip of the bundle bytes: the value of binaryData[PROXY_CONFIG_KEY] (base64 it for the API). */
  gzipped: Buffer;
  /** The value of the CONFIG_HASH_ANNOTATION annotation. */
  hash: string;
  /** The bundle's `version` field. */
  version: string;
}

/** Encodes (throwing ProxyConfigError on invalid config), versions, hashes and gzips a workload's config. */
export function packProxyConfig(pc: ProxyConfig): PackedProxyConfig {
  const body = encodeProxyConfig(pc);
  const version = sha256Hex(body);
  const bytes = withVersion(body, version);
  return { gzipped: gzipSync(bytes), hash: sha256Hex(bytes), version };
}

/** The ConfigMap fields a writer sets: binaryData and the hash annotation. */
export function proxyConfigMapContent(packed: PackedProxyConfig): { binaryData: Record<string, string>; annotations: Record<string, string> } {
  return {
    binaryData: { [PROXY_CONFIG_KEY]: packed.gzipped.toString('base64') },
    annotations: { [CONFIG_HASH_ANNOTATION]: packed.hash },
  };
}

export interface UnpackedProxyConfig {
  config: DecodedProxyConfig;
  /** Hex SHA-256 of the ungzipped bytes, to compare with the annotation. */
  hash: string;
}

/** Bundle bytes, gzipped or not (a gzip stream starts with 1f 8b), back to a ProxyConfig. */
export function unpackProxyConfig(data: Uint8Array): UnpackedProxyConfig {
  const bytes = data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data;
  return { config: decodeProxyConfig(bytes), hash: sha256Hex(bytes) };
}
