// How a workload's proxy config is stored: the names the writer (src/controllers) and the readers (sidecar,
// weftctl proxy-config) share. The data is `gzip(ProxyBundle bytes)` under PROXY_CONFIG_KEY in the ConfigMap's
// binaryData; the annotation carries the hex SHA-256 of the ungzipped bytes, so unchanged config is not rewritten.

/** ConfigMap in the workload's namespace. */
export const PROXY_CONFIGMAP_PREFIX = 'weft-proxy-';
export const proxyConfigMapName = (workloadName: string): string => PROXY_CONFIGMAP_PREFIX + workloadName;

/** Where the sidecar finds the ConfigMap mounted (the injector mounts it there, `weft proxy` reads it by default). */
export const PROXY_CONFIG_DIR = '/etc/weft/proxy';

/** binaryData key: gzip of the encoded weft.v1.ProxyBundle. */
export const PROXY_CONFIG_KEY = 'config.pb.gz';

/** Annotation: hex SHA-256 of the ungzipped ProxyBundle bytes. */
export const CONFIG_HASH_ANNOTATION = 'weft.dev/config-hash';

/** The message type of the ungzipped bytes. */
export const PROXY_BUNDLE_TYPE = 'weft.v1.ProxyBundle';
