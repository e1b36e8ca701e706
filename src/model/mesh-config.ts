// The mesh config: Istio's MeshConfig, as weft reads it from ConfigMap `weft-system/weft`, key `mesh` (the shape
// of Istio's `istio-system/istio` ConfigMap). Pure: YAML text in; out the MeshOptions it sets (only the fields
// written), errors naming the field (the whole config is then refused: the operator keeps the last good one) and
// warnings (unknown fields, Istio fields weft does not carry out; accepted without them).
// Fields weft reads, with Istio's names: rootNamespace, trustDomain, outboundTrafficPolicy.mode,
// extensionProviders (envoyExtAuthzHttp and envoyExtAuthzGrpc checked; other provider kinds kept as given),
// pathNormalization.normalization, enableAutoMtls (weft always uses auto mTLS: `false` is warned about).
import { parse } from 'yaml';
import type { ExtAuthzBody, ExtensionProvider, MeshOptions, PathNormalization } from './types.ts';

export interface MeshConfigFinding {
  /** Path in the mesh config, e.g. `extensionProviders[1].envoyExtAuthzHttp.port`. */
  field: string;
  message: string;
}

export interface MeshConfigResult {
  options: Partial<MeshOptions>;
  errors: MeshConfigFinding[];
  warnings: MeshConfigFinding[];
}

/** The ConfigMap weft reads it from (in the operator's root namespace) and the key holding the YAML. */
export const MESH_CONFIG_NAME = 'weft';
export const MESH_CONFIG_KEY = 'mesh';

/** Istio MeshConfig fields weft accepts without carrying them out (warned as ignored, not as unknown). */
const ISTIO_IGNORED = new Set([
  'accessLogFile', 'accessLogFormat', 'accessLogEncoding', 'enableTracing', 'enableEnvoyAccessLogService', 'defaultConfig',
  'defaultProviders', 'trustDomainAliases', 'defaultServiceExportTo', 'defaultVirtualServiceExportTo',
  'defaultDestinationRuleExportTo', 'localityLbSetting', 'dnsRefreshRate', 'h2UpgradePolicy', 'inboundClusterStatName',
  'outboundClusterStatName', 'certificates', 'serviceSettings', 'enablePrometheusMerge', 'verifyCertificateAtClient',
  'caCertificates', 'discoverySelectors', 'meshMTLS', 'tlsDefaults', 'connectTimeout', 'tcpKeepalive',
  'protocolDetectionTimeout', 'ingressClass', 'ingressService', 'ingressControllerMode', 'ingressSelector',
  'proxyListenPort', 'proxyInboundListenPort', 'proxyHttpPort', 'serviceScopeConfigs', 'configSources',
  'thriftConfig', 'mseSettings', 'disableEnvoyListenerLog',
]);

const EXT_AUTHZ_BODY = ['maxRequestBytes', 'allowPartialMessage', 'packAsBytes'];
const HTTP_FIELDS = [
  'service', 'port', 'timeout', 'pathPrefix', 'failOpen', 'statusOnError', 'includeRequestHeadersInCheck', 'includeHeadersInCheck',
  'includeAdditionalHeadersInCheck', 'includeRequestBodyInCheck', 'headersToUpstreamOnAllow', 'headersToDownstreamOnDeny',
  'headersToDownstreamOnAllow', 'clearRouteCache',
];
const GRPC_FIELDS = ['service', 'port', 'timeout', 'failOpen', 'statusOnError', 'includeRequestBodyInCheck', 'clearRouteCache'];
const NORMALIZATIONS: readonly string[] = ['DEFAULT', 'NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];
const DNS_LABELS = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DURATION = /^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

class Collect {
  readonly errors: MeshConfigFinding[] = [];
  readonly warnings: MeshConfigFinding[] = [];
  error(field: string, message: string): void {
    this.errors.push({ field, message });
  }
  warn(field: string, message: string): void {
    this.warnings.push({ field, message });
  }
}

/** Parses and checks a mesh config (the YAML of key `mesh`). Empty text is an empty config. */
export function parseMeshConfig(text: string): MeshConfigResult {
  let doc: unknown;
  try {
    doc = parse(text, { version: '1.1' });
  } catch (e) {
    return { options: {}, errors: [{ field: '<yaml>', message: (e as Error).message.split('\n')[0]! }], warnings: [] };
  }
  return checkMeshConfig(doc ?? {});
}

/** Checks a mesh config already decoded from YAML or JSON. */
export function checkMeshConfig(doc: unknown): MeshConfigResult {
  const c = new Collect();
  const options: Partial<MeshOptions> = {};
  if (!isObj(doc)) {
    c.error('<root>', 'the mesh config must be a mapping of MeshConfig fields');
    return { options, ...c };
  }
  for (const [k, v] of Object.entries(doc)) {
    switch (k) {
      case 'rootNamespace':
        if (typeof v !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v) || v.length > 63) c.error(k, `must be a namespace name, not ${JSON.stringify(v)}`);
        else options.rootNamespace = v;
        break;
      case 'trustDomain':
        if (typeof v !== 'string' || !DNS_LABELS.test(v) || v.length > 255) c.error(k, `must be a trust domain (lower-case DNS name), not ${JSON.stringify(v)}`);
        else options.trustDomain = v;
        break;
      case 'outboundTrafficPolicy':
        outbound(v, c, options);
        break;
      case 'extensionProviders':
        options.extensionProviders = providers(v, c);
        break;
      case 'pathNormalization':
        pathNormalization(v, c, options);
        break;
      case 'enableAutoMtls':
        if (typeof v !== 'boolean') c.error(k, `must be true or false, not ${JSON.stringify(v)}`);
        else if (!v) c.warn(k, 'weft always uses auto mTLS (ISTIO_MUTUAL to endpoints with a sidecar, plaintext to others): false is not carried out');
        break;
      default:
        if (ISTIO_IGNORED.has(k)) c.warn(k, 'an Istio MeshConfig field weft does not carry out: ignored');
        else c.warn(k, 'unknown field: ignored');
    }
  }
  return { options, errors: c.errors, warnings: c.warnings };
}

function outbound(v: unknown, c: Collect, options: Partial<MeshOptions>): void {
  if (!isObj(v)) return c.error('outboundTrafficPolicy', 'must be a mapping with `mode`');
  for (const [k, x] of Object.entries(v)) {
    if (k !== 'mode') {
      c.warn(`outboundTrafficPolicy.${k}`, k === 'egressProxy' ? 'egressProxy is not supported by weft: ignored' : 'unknown field: ignored');
      continue;
    }
    if (x !== 'ALLOW_ANY' && x !== 'REGISTRY_ONLY') c.error('outboundTrafficPolicy.mode', `must be ALLOW_ANY or REGISTRY_ONLY, not ${JSON.stringify(x)}`);
    else options.outboundTrafficPolicy = x;
  }
}

function pathNormalization(v: unknown, c: Collect, options: Partial<MeshOptions>): void {
  if (!isObj(v)) return c.error('pathNormalization', 'must be a mapping with `normalization`');
  for (const [k, x] of Object.entries(v)) {
    if (k !== 'normalization') {
      c.warn(`pathNormalization.${k}`, 'unknown field: ignored');
      continue;
    }
    if (typeof x !== 'string' || !NORMALIZATIONS.includes(x)) {
      c.error('pathNormalization.normalization', `must be one of ${NORMALIZATIONS.join(', ')}, not ${JSON.stringify(x)}`);
      continue;
    }
    // Istio's DEFAULT is BASE.
    options.pathNormalization = (x === 'DEFAULT' ? 'BASE' : x) as PathNormalization;
  }
}

function providers(v: unknown, c: Collect): ExtensionProvider[] {
  if (!Array.isArray(v)) {
    c.error('extensionProviders', 'must be a list of providers');
    return [];
  }
  const out: ExtensionProvider[] = [];
  const seen = new Set<string>();
  v.forEach((p, i) => {
    const f = `extensionProviders[${i}]`;
    if (!isObj(p)) return c.error(f, 'must be a mapping with `name` and one provider kind');
    const name = p.name;
    if (typeof name !== 'string' || name === '') return c.error(`${f}.name`, 'is required');
    if (seen.has(name)) c.error(`${f}.name`, `duplicate provider name "${name}"`);
    seen.add(name);
    const kinds = Object.keys(p).filter((k) => k !== 'name');
    if (kinds.length !== 1) return c.error(f, `must set exactly one provider kind, found ${kinds.length === 0 ? 'none' : kinds.join(', ')}`);
    const kind = kinds[0]!;
    if (kind === 'envoyExtAuthzHttp') {
      const http = extAuthz(p[kind], `${f}.${kind}`, HTTP_FIELDS, c);
      if (http) out.push({ name, envoyExtAuthzHttp: http as unknown as NonNullable<ExtensionProvider['envoyExtAuthzHttp']> });
    } else if (kind === 'envoyExtAuthzGrpc') {
      const grpc = extAuthz(p[kind], `${f}.${kind}`, GRPC_FIELDS, c);
      if (grpc) out.push({ name, envoyExtAuthzGrpc: grpc as unknown as NonNullable<ExtensionProvider['envoyExtAuthzGrpc']> });
    } else {
      // Tracing, logging and metrics providers: kept as given for whatever reads them.
      out.push({ name, [kind]: p[kind] });
    }
  });
  return out;
}

function extAuthz(v: unknown, f: string, fields: readonly string[], c: Collect): Obj | undefined {
  if (!isObj(v)) {
    c.error(f, 'must be a mapping');
    return undefined;
  }
  const out: Obj = {};
  const before = c.errors.length;
  for (const [k, x] of Object.entries(v)) {
    const at = `${f}.${k}`;
    if (!fields.includes(k)) {
      c.warn(at, 'unknown field: ignored');
      continue;
    }
    switch (k) {
      case 'service':
        if (typeof x !== 'string' || !/^([a-z0-9]([-a-z0-9]*[a-z0-9])?\/)?\*?[-a-zA-Z0-9.*]+$/.test(x)) c.error(at, `must be "[<namespace>/]<hostname>", not ${JSON.stringify(x)}`);
        else out[k] = x;
        break;
      case 'port': {
        // Protobuf's JSON mapping (how Istio reads mesh config) takes integers as numbers or decimal strings:
        // Istio's own samples write `port: "8000"`.
        const n = protoUint(x);
        if (n === undefined || n < 1 || n > 65535) c.error(at, `must be a port number 1-65535, not ${JSON.stringify(x)}`);
        else out[k] = n;
        break;
      }
      case 'timeout':
        if (typeof x !== 'string' || !DURATION.test(x)) c.error(at, `must be a duration such as "600ms" or "2s", not ${JSON.stringify(x)}`);
        else out[k] = x;
        break;
      case 'pathPrefix':
        if (typeof x !== 'string' || !x.startsWith('/')) c.error(at, `must start with "/", not ${JSON.stringify(x)}`);
        else out[k] = x;
        break;
      case 'failOpen':
        if (typeof x !== 'boolean') c.error(at, `must be true or false, not ${JSON.stringify(x)}`);
        else out[k] = x;
        break;
      case 'clearRouteCache':
        if (typeof x !== 'boolean') c.error(at, `must be true or false, not ${JSON.stringify(x)}`);
        else if (x) c.warn(at, 'not supported by weft: routes are not recomputed after the authorizer answers');
        break;
      case 'statusOnError': {
        const s = typeof x === 'number' ? String(x) : x;
        if (typeof s !== 'string' || !/^[1-5]\d\d$/.test(s)) c.error(at, `must be an HTTP status code, not ${JSON.stringify(x)}`);
        else out[k] = s;
        break;
      }
      case 'includeRequestBodyInCheck':
        out[k] = body(x, at, c);
        break;
      case 'includeAdditionalHeadersInCheck':
        if (!isObj(x) || !Object.values(x).every((h) => typeof h === 'string')) c.error(at, 'must be a map of header names to values');
        else out[k] = { ...x };
        break;
      case 'includeHeadersInCheck':
        // Deprecated by Istio in favour of includeRequestHeadersInCheck, which it is merged into.
        if (!stringList(x)) c.error(at, 'must be a list of header names');
        else {
          c.warn(at, 'deprecated: use includeRequestHeadersInCheck (merged into it)');
          out.includeRequestHeadersInCheck = [...((out.includeRequestHeadersInCheck as string[] | undefined) ?? []), ...(x as string[])];
        }
        break;
      default:
        if (!stringList(x)) c.error(at, 'must be a list of header names');
        else out[k] = [...((out[k] as string[] | undefined) ?? []), ...(x as string[])];
    }
  }
  if (out.service === undefined && !('service' in v)) c.error(`${f}.service`, 'is required');
  if (out.port === undefined && !('port' in v)) c.error(`${f}.port`, 'is required');
  return c.errors.length === before ? out : undefined;
}

function body(x: unknown, at: string, c: Collect): ExtAuthzBody | undefined {
  if (!isObj(x)) {
    c.error(at, 'must be a mapping');
    return undefined;
  }
  const out: ExtAuthzBody = {};
  for (const [k, y] of Object.entries(x)) {
    if (!EXT_AUTHZ_BODY.includes(k)) c.warn(`${at}.${k}`, 'unknown field: ignored');
    else if (k === 'maxRequestBytes') {
      const n = protoUint(y);
      if (n === undefined || n > 4294967295) c.error(`${at}.${k}`, `must be a non-negative integer, not ${JSON.stringify(y)}`);
      else out.maxRequestBytes = n;
    } else if (typeof y !== 'boolean') c.error(`${at}.${k}`, `must be true or false, not ${JSON.stringify(y)}`);
    else out[k as 'allowPartialMessage' | 'packAsBytes'] = y;
  }
  return out;
}

const stringList = (v: unknown): boolean => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** A ConfigMap carrying a mesh config (`kind: ConfigMap` with `data.mesh`), checked; undefined when `obj` is not one. */
export function checkMeshConfigMap(obj: unknown): MeshConfigResult | undefined {
  if (!isObj(obj) || obj.kind !== 'ConfigMap' || (obj.apiVersion !== undefined && obj.apiVersion !== 'v1')) return undefined;
  const data = isObj(obj.data) ? obj.data : {};
  if (!(MESH_CONFIG_KEY in data)) return undefined;
  const text = data[MESH_CONFIG_KEY];
  if (typeof text !== 'string') return { options: {}, errors: [{ field: `data.${MESH_CONFIG_KEY}`, message: 'must be a string of YAML' }], warnings: [] };
  const r = parseMeshConfig(text);
  const prefix = (f: MeshConfigFinding): MeshConfigFinding => ({ ...f, field: `data.${MESH_CONFIG_KEY}.${f.field}` });
  return { options: r.options, errors: r.errors.map(prefix), warnings: r.warnings.map(prefix) };
}

/** A uint32 as protobuf's JSON mapping reads it: a whole number, or a string of decimal digits. */
function protoUint(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  if (typeof v === 'string' && /^\d{1,10}$/.test(v)) return Number(v);
  return undefined;
}
