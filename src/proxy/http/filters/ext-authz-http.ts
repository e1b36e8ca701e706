// ext_authz's HTTP authorization service (http_service), as Envoy's raw HTTP client speaks it. In: the request
// being authorized; out: an AuthzResult. The check request keeps the method, path (path_prefix in front) and
// host, carries Authorization and the allowed headers (plus headers_to_add, which override), Content-Length of
// the body sent (0 without one). The answer: 200 → allowed, with allowed_upstream_headers set on the upstream
// request, allowed_upstream_headers_to_append appended, x-envoy-auth-headers-to-remove removed,
// allowed_client_headers_on_success added to the response and dynamic_metadata_from_headers as metadata; 5xx
// → error; anything else → denied with its status, body and the allowed client headers (all but Host when the
// list is not set).
import type { IncomingHttpHeaders } from 'node:http';
import { arr, durationMs, obj, str } from '../../routing/envoy-values.ts';
import type { Obj } from '../../routing/envoy-values.ts';
import type { Runtime } from '../../runtime.ts';
import { AuthorizerError, callAuthorizer } from '../../authz/authorizer-call.ts';
import type { AuthzResult, CheckInput, HeaderMatch } from './ext-authz-types.ts';
import { listMatcher } from './ext-authz-types.ts';

const DEFAULT_REQUEST_HEADERS = new Set(['authorization']);
const HEADERS_TO_REMOVE = 'x-envoy-auth-headers-to-remove';
/** Headers of the client's connection, never copied into the check request (its own length is set). */
const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'host', 'expect']);
const CLIENT_DEFAULTS = new Set([':status', 'content-length', 'www-authenticate', 'location', ':path']);

function pairs(h: IncomingHttpHeaders, match: HeaderMatch): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || k === HEADERS_TO_REMOVE || !match(k)) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.push([k, one]);
  }
  return out;
}

export class HttpAuthorizer {
  private readonly cluster: string;
  private readonly pathPrefix: string;
  private readonly timeoutMs: number;
  private readonly requestMatch: HeaderMatch;
  private readonly disallowed: HeaderMatch;
  private readonly headersToAdd: Array<[string, string]>;
  private readonly upstream: HeaderMatch;
  private readonly upstreamAppend: HeaderMatch;
  private readonly client: HeaderMatch;
  private readonly clientOnSuccess: HeaderMatch;
  private readonly metadataFrom: HeaderMatch;

  constructor(filter: Obj) {
    const svc = obj(filter.httpService);
    const uri = obj(svc.serverUri);
    this.cluster = str(uri.cluster);
    this.pathPrefix = str(svc.pathPrefix);
    this.timeoutMs = durationMs(uri.timeout) ?? 200;
    const request = obj(svc.authorizationRequest);
    const user = listMatcher(filter.allowedHeaders ?? request.allowedHeaders);
    this.requestMatch = (name) => DEFAULT_REQUEST_HEADERS.has(name) || (user !== undefined && user(name));
    this.disallowed = listMatcher(filter.disallowedHeaders) ?? (() => false);
    this.headersToAdd = arr(request.headersToAdd).map((h) => [str(h.key).toLowerCase(), str(h.value)]);
    const response = obj(svc.authorizationResponse);
    const none: HeaderMatch = () => false;
    this.upstream = listMatcher(response.allowedUpstreamHeaders) ?? none;
    this.upstreamAppend = listMatcher(response.allowedUpstreamHeadersToAppend) ?? none;
    const client = listMatcher(response.allowedClientHeaders);
    this.client = client ? (name) => CLIENT_DEFAULTS.has(name) || client(name) : (name) => name !== 'host' && name !== ':authority';
    this.clientOnSuccess = listMatcher(response.allowedClientHeadersOnSuccess) ?? none;
    this.metadataFrom = listMatcher(response.dynamicMetadataFromHeaders) ?? none;
  }

  async check(runtime: Runtime, input: CheckInput): Promise<AuthzResult> {
    const r = input.req.request;
    const headers: Record<string, string | string[]> = {};
    for (const [name, values] of r.headers) {
      if (HOP_BY_HOP.has(name) || !this.requestMatch(name) || this.disallowed(name)) continue;
      headers[name] = values.join(',');
    }
    headers.host = r.authority;
    headers['content-length'] = String(input.body?.length ?? 0);
    // The check request's header set, like any other, is narrowed by the allowed headers.
    if (input.body && this.requestMatch('x-envoy-auth-partial-body')) headers['x-envoy-auth-partial-body'] = input.partial ? 'true' : 'false';
    for (const [k, v] of this.headersToAdd) headers[k] = v;
    let res;
    try {
      res = await callAuthorizer(runtime, this.cluster, {
        method: r.method, path: this.pathPrefix + r.path, headers, ...(input.body ? { body: input.body } : {}), timeoutMs: this.timeoutMs, http2: false,
      });
    } catch (err) {
      return { kind: 'error', message: err instanceof AuthorizerError ? err.message : String(err) };
    }
    if (res.status >= 500) return { kind: 'error', message: `authorizer answered ${res.status}` };
    if (res.status === 200) {
      const remove = res.headers[HEADERS_TO_REMOVE];
      const metadata: Record<string, unknown> = {};
      for (const [k, v] of pairs(res.headers, this.metadataFrom)) metadata[k] = v;
      return {
        kind: 'ok',
        headersToSet: pairs(res.headers, this.upstream),
        headersToAppend: pairs(res.headers, this.upstreamAppend),
        headersToRemove: remove === undefined ? [] : String(remove).split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== ''),
        responseHeadersToAdd: pairs(res.headers, this.clientOnSuccess),
        ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
      };
    }
    return {
      kind: 'denied',
      status: res.status,
      body: res.body.toString('utf8'),
      headers: pairs(res.headers, (n) => this.client(n) && n !== 'content-length' && n !== 'transfer-encoding' && n !== 'connection' && n !== 'keep-alive'),
    };
  }
}
