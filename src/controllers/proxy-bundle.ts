// A workload's ProxyConfig ⇄ what its ConfigMap holds (src/translate/envoy/bundle-format.ts): the encoded
// weft.v1.ProxyBundle with its version (hex SHA-256 of the bundle without it), gzipped, and the hash annotation
// (hex SHA-256 of the ungzipped bytes). The one place that packs, hashes, gzips and unpacks bundles: the
// distribution writes with it (in steps, so that unchanged config is never gzipped), weftctl reads with it.
// gzip is deterministic: a fixed level and node:zlib's header without a timestamp (mtime 0), so equal bytes give
// equal ConfigMap data; the hash is taken before gzip anyway. Hashing and gzip live here, not in pure translate.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CONFIG_HASH_ANNOTATION, PROXY_CONFIG_KEY } from '../translate/envoy/bundle-format.ts';
import { decodeProxyConfig, encodeProxyConfig, withVersion } from '../translate/envoy/proto.ts';
import type { DecodedProxyConfig } from '../translate/envoy/proto.ts';
import type { ProxyConfig } from '../translate/types.ts';

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export interface EncodedBundle {
  /** The bundle's bytes, `version` included. */
  bytes: Uint8Array;
  /** The value of the CONFIG_HASH_ANNOTATION annotation. */
  hash: string;
}

/** The bundle from encodeProxyConfig's bytes (or the same bytes from a caching encoder): versioned and hashed. */
export function sealBundle(body: Uint8Array): EncodedBundle & { version: string } {
  const version = sha256Hex(body);
  const bytes = withVersion(body, version);
  return { bytes, hash: sha256Hex(bytes), version };
}

/** Throws ProxyConfigError when the config does not encode (an Envoy field or enum that does not exist). */
export function encodeBundle(pc: ProxyConfig): EncodedBundle & { version: string } {
  return sealBundle(encodeProxyConfig(pc));
}

/** Fastest zlib level: the bundles compress ~10× at any level, and CPU, not bytes, bounds the operator. */
export const GZIP_LEVEL = 1;

export function gzipBundle(bytes: Uint8Array): Buffer {
  return gzipSync(bytes, { level: GZIP_LEVEL });
}

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
  const { bytes, hash, version } = encodeBundle(pc);
  return { gzipped: gzipBundle(bytes), hash, version };
}

/** The ConfigMap fields a writer sets: binaryData and the hash annotation. */
export function proxyConfigMapContent(packed: Pick<PackedProxyConfig, 'gzipped' | 'hash'>): { binaryData: Record<string, string>; annotations: Record<string, string> } {
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
