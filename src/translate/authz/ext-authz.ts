// MeshConfig extensionProviders → the ext_authz filter configs of a CUSTOM AuthorizationPolicy, as Istio builds
// them: envoyExtAuthzHttp → an HTTP service (`outbound|<port>||<host>`, pathPrefix, allowed and added headers),
// envoyExtAuthzGrpc → an Envoy gRPC service (HTTP and TCP chains); both V3, enabled only for requests the CUSTOM
// shadow RBAC marked (dynamic metadata `istio_ext_authz_shadow_effective_policy_id` starting `istio-ext-authz`).
// A provider that is missing or invalid (no such service, bad port or statusOnError) resolves to an error, and the
// caller denies what its policies select. Provider and snapshot in; filter configs and the cluster they call out.
import type { ExtAuthzBody, ExtensionProvider, Snapshot } from '../../model/types.ts';
import { envoyRoot } from '../envoy/proto.ts';
import { any, duration, type Duration } from '../envoy/values.ts';
import { parseDurationNs } from '../../validate/common.ts';
import { clusterName } from '../names.ts';
import type { EnvoyObject } from '../types.ts';
import { EXT_AUTHZ_MATCH_PREFIX, EXT_AUTHZ_SHADOW_PREFIX } from './rbac.ts';

export const HTTP_EXT_AUTHZ_FILTER = 'envoy.filters.http.ext_authz';
export const NETWORK_EXT_AUTHZ_FILTER = 'envoy.filters.network.ext_authz';
export const HTTP_RBAC_FILTER = 'envoy.filters.http.rbac';
export const NETWORK_RBAC_FILTER = 'envoy.filters.network.rbac';

export interface BuiltExtAuthz {
  /** envoy.extensions.filters.http.ext_authz.v3.ExtAuthz fields. */
  http: EnvoyObject;
  /** envoy.extensions.filters.network.ext_authz.v3.ExtAuthz fields (gRPC providers only). */
  tcp?: EnvoyObject;
  /** The authorizer's cluster, which the workload's config must hold. */
  cluster: { name: string; host: string; port: number };
}

export type ExtAuthzResult = { ok: BuiltExtAuthz } | { error: string };

/** The metadata matcher that switches ext_authz on for requests a CUSTOM policy selected. */
export function filterEnabledMetadata(rbacFilter: string): EnvoyObject {
  return {
    filter: rbacFilter,
    path: [{ key: `${EXT_AUTHZ_SHADOW_PREFIX}shadow_effective_policy_id` }],
    value: { stringMatch: { prefix: EXT_AUTHZ_MATCH_PREFIX } },
  };
}

/** `[<namespace>/]<host>` → the service's hostname (Istio's LookupCluster; a short name is not resolved). */
function lookupHost(snapshot: Snapshot, service: string): string | undefined {
  const i = service.indexOf('/');
  const ns = i < 0 ? undefined : service.slice(0, i);
  const host = i < 0 ? service : service.slice(i + 1);
  if (!host) return undefined;
  const found = snapshot.servicesByHost(host).filter((s) => ns === undefined || s.namespace === ns);
  if (found.length > 0) return host;
  // `ns/name` may name a Kubernetes Service by its short name.
  if (ns !== undefined && !host.includes('.')) {
    const fqdn = snapshot.resolveHost(host, ns);
    if (snapshot.servicesByHost(fqdn).some((s) => s.namespace === ns)) return fqdn;
  }
  return undefined;
}

const statusName = (code: number): string | undefined => envoyRoot.lookupEnum('envoy.type.v3.StatusCode').valuesById[code];

function statusOnError(v: unknown): { ok?: EnvoyObject; error?: string } {
  if (v === undefined || v === '') return {};
  const name = /^\d+$/.test(String(v)) ? statusName(Number(v)) : undefined;
  return name === undefined || name === 'Empty' ? { error: `unsupported statusOnError ${v}` } : { ok: { code: name } };
}

function timeout(t: unknown): Duration {
  const ns = typeof t === 'string' ? parseDurationNs(t) : undefined;
  return ns === undefined || ns <= 0 || !Number.isFinite(ns) ? duration('600s') : duration(t as string);
}

/** ListStringMatcher of header names: `x-*` prefix, `*-id` suffix, else exact; case-insensitive. */
function headers(value: unknown): EnvoyObject | undefined {
  const names = strList(value);
  if (names.length === 0) return undefined;
  return {
    patterns: names.map((h) => {
      if (h.startsWith('*')) return { suffix: h.slice(1), ignoreCase: true };
      if (h.endsWith('*')) return { prefix: h.slice(0, -1), ignoreCase: true };
      return { exact: h, ignoreCase: true };
    }),
  };
}

const strList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function withBody(b: ExtAuthzBody | undefined): EnvoyObject | undefined {
  if (!b || typeof b !== 'object') return undefined;
  const out: EnvoyObject = {};
  const max = b.maxRequestBytes;
  if (typeof max === 'number' && Number.isInteger(max) && max > 0 && max <= 0xffffffff) out.maxRequestBytes = max;
  if (b.allowPartialMessage === true) out.allowPartialMessage = true;
  if (b.packAsBytes === true) out.packAsBytes = true;
  return out;
}

const validPort = (p: unknown): p is number => typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;

/** One provider, by name, resolved against the snapshot. */
export function resolveProvider(snapshot: Snapshot, name: string): ExtAuthzResult {
  const p: ExtensionProvider | undefined = (snapshot.options.extensionProviders ?? []).find((x) => x.name === name);
  if (!p) return { error: `extension provider ${JSON.stringify(name)} is not defined` };
  const cfg = p.envoyExtAuthzHttp ?? p.envoyExtAuthzGrpc;
  if (!cfg || typeof cfg !== 'object') return { error: `extension provider ${JSON.stringify(name)} is not an authorizer` };
  if (!validPort(cfg.port)) return { error: `port must be in the range [1, 65535], found: ${String(cfg.port)}` };
  const host = typeof cfg.service === 'string' ? lookupHost(snapshot, cfg.service) : undefined;
  if (!host) return { error: `could not find service ${String(cfg.service)}` };
  const status = statusOnError(cfg.statusOnError);
  if (status.error) return { error: status.error };
  const cluster = { name: clusterName('outbound', cfg.port, '', host), host, port: cfg.port };

  if (p.envoyExtAuthzHttp) {
    const h = p.envoyExtAuthzHttp;
    if (h.pathPrefix !== undefined && (typeof h.pathPrefix !== 'string' || (h.pathPrefix !== '' && !h.pathPrefix.startsWith('/')))) {
      return { error: `pathPrefix must begin with /, found: ${String(h.pathPrefix)}` };
    }
    const all = [h.includeRequestHeadersInCheck, h.headersToUpstreamOnAllow, h.headersToDownstreamOnDeny, h.headersToDownstreamOnAllow];
    if (all.some((l) => strList(l).includes('*'))) return { error: 'a single wildcard ("*") is not supported in header lists' };
    const service: EnvoyObject = {
      serverUri: { uri: `http://${host}`, cluster: cluster.name, timeout: timeout(h.timeout) },
    };
    if (h.pathPrefix) service.pathPrefix = h.pathPrefix;
    const allowed = headers(h.includeRequestHeadersInCheck);
    const extra = h.includeAdditionalHeadersInCheck !== null && typeof h.includeAdditionalHeadersInCheck === 'object' ? h.includeAdditionalHeadersInCheck : {};
    const add = Object.keys(extra).sort().map((key) => ({ key, value: String(extra[key]) }));
    if (allowed || add.length > 0) {
      const req: EnvoyObject = {};
      if (allowed) req.allowedHeaders = allowed;
      if (add.length > 0) req.headersToAdd = add;
      service.authorizationRequest = req;
    }
    const up = headers(h.headersToUpstreamOnAllow);
    const deny = headers(h.headersToDownstreamOnDeny);
    const ok = headers(h.headersToDownstreamOnAllow);
    if (up || deny || ok) {
      const res: EnvoyObject = {};
      if (up) res.allowedUpstreamHeaders = up;
      if (deny) res.allowedClientHeaders = deny;
      if (ok) res.allowedClientHeadersOnSuccess = ok;
      service.authorizationResponse = res;
    }
    const http: EnvoyObject = { httpService: service, transportApiVersion: 'V3', filterEnabledMetadata: filterEnabledMetadata(HTTP_RBAC_FILTER) };
    if (status.ok) http.statusOnError = status.ok;
    if (h.failOpen === true) http.failureModeAllow = true;
    const body = withBody(h.includeRequestBodyInCheck);
    if (body) http.withRequestBody = body;
    return { ok: { http, cluster } };
  }

  const g = p.envoyExtAuthzGrpc!;
  const grpcService = {
    envoyGrpc: { clusterName: cluster.name, authority: cluster.name.replaceAll('|', '_.') },
    timeout: timeout(g.timeout),
  };
  const http: EnvoyObject = { grpcService, transportApiVersion: 'V3', filterEnabledMetadata: filterEnabledMetadata(HTTP_RBAC_FILTER) };
  if (status.ok) http.statusOnError = status.ok;
  if (g.failOpen === true) http.failureModeAllow = true;
  const body = withBody(g.includeRequestBodyInCheck);
  if (body) http.withRequestBody = body;
  const tcp: EnvoyObject = {
    statPrefix: 'tcp.', grpcService, transportApiVersion: 'V3', filterEnabledMetadata: filterEnabledMetadata(NETWORK_RBAC_FILTER),
  };
  if (g.failOpen === true) tcp.failureModeAllow = true;
  return { ok: { http, tcp, cluster } };
}

export const httpExtAuthzFilter = (fields: EnvoyObject): EnvoyObject =>
  ({ name: HTTP_EXT_AUTHZ_FILTER, typedConfig: any('envoy.extensions.filters.http.ext_authz.v3.ExtAuthz', fields) });
export const networkExtAuthzFilter = (fields: EnvoyObject): EnvoyObject =>
  ({ name: NETWORK_EXT_AUTHZ_FILTER, typedConfig: any('envoy.extensions.filters.network.ext_authz.v3.ExtAuthz', fields) });
