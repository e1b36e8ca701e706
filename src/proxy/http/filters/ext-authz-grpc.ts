// ext_authz's gRPC authorization service (grpc_service.envoy_grpc): envoy.service.auth.v3.Authorization/Check
// over HTTP/2 through the sidecar's cluster, messages encoded with Envoy's own protos (the descriptor weft
// generates). In: the request being authorized; out: an AuthzResult. The CheckRequest carries source and
// destination (address, SPIFFE principal), the HTTP request (id, method, every header unless allowed_headers
// narrows it, path, host, scheme, protocol, size, body as text or bytes), context extensions, the dynamic metadata
// of metadata_context_namespaces and the SNI. An OK status allows (ok_response headers set/appended/removed,
// response_headers_to_add, dynamic_metadata); any other status denies with denied_response's status (403 when
// unset), headers and body; a failed call (transport, grpc-status, timeout) is an error. The call itself is
// authz/grpc-check.ts, shared with the network ext_authz filter.
import { arr, bool, obj, str, strs } from '../../routing/envoy-values.ts';
import type { Obj } from '../../routing/envoy-values.ts';
import { envoyRoot } from '../../../translate/envoy/proto.ts';
import { GrpcCheckClient, socketAddress, toStruct } from '../../authz/grpc-check.ts';
import type { Runtime } from '../../runtime.ts';
import type { AuthzResult, CheckInput, HeaderMatch } from './ext-authz-types.ts';
import { listMatcher } from './ext-authz-types.ts';

const statusCodes = envoyRoot.lookupEnum('envoy.type.v3.StatusCode').values;

/** A HeaderValueOption of a CheckResponse: request headers are appended only when `append` says true. */
function headerOption(h: Obj): { key: string; value: string; append: boolean } {
  const header = obj(h.header);
  const value = typeof header.rawValue === 'string' && header.rawValue !== '' ? Buffer.from(header.rawValue, 'base64').toString('utf8') : str(header.value);
  return { key: str(header.key).toLowerCase(), value, append: bool(h.append, false) };
}

export class GrpcAuthorizer {
  private readonly client: GrpcCheckClient;
  private readonly allowed: HeaderMatch | undefined;
  private readonly disallowed: HeaderMatch;
  private readonly namespaces: string[];
  private readonly packAsBytes: boolean;
  private readonly includeTls: boolean;

  constructor(filter: Obj) {
    this.client = new GrpcCheckClient(filter.grpcService);
    this.allowed = listMatcher(filter.allowedHeaders);
    this.disallowed = listMatcher(filter.disallowedHeaders) ?? (() => false);
    this.namespaces = strs(filter.metadataContextNamespaces);
    this.packAsBytes = bool(obj(filter.withRequestBody).packAsBytes, false);
    this.includeTls = bool(filter.includeTlsSession, false);
  }

  private attributes(runtime: Runtime, input: CheckInput): Obj {
    const { req } = input;
    const r = req.request;
    const headers: Record<string, string> = {};
    const pseudo: Array<[string, string]> = [[':authority', r.authority], [':method', r.method], [':path', r.path], [':scheme', r.scheme]];
    for (const [k, v] of pseudo) if (v !== '' && (!this.allowed || this.allowed(k)) && !this.disallowed(k)) headers[k] = v;
    for (const [name, values] of r.headers) {
      if ((this.allowed && !this.allowed(name)) || this.disallowed(name)) continue;
      headers[name] = values.join(',');
    }
    const now = Date.now();
    const http: Obj = {
      method: r.method, headers, path: r.path, host: r.authority, scheme: r.scheme,
      protocol: req.conn.info.http === 'http2' ? 'HTTP/2' : req.conn.info.http === 'http1.0' ? 'HTTP/1.0' : 'HTTP/1.1',
      size: input.body ? input.body.length : Number(r.headers.get('content-length')?.[0] ?? -1),
    };
    const id = r.headers.get('x-request-id')?.[0];
    if (id) http.id = id;
    if (input.body) {
      headers['x-envoy-auth-partial-body'] = input.partial ? 'true' : 'false';
      if (this.packAsBytes) http.rawBody = input.body.toString('base64');
      else http.body = input.body.toString('utf8');
    }
    const source: Obj = {};
    const src = socketAddress(req.conn.downstreamRemote);
    if (src) source.address = src;
    if (req.conn.tls?.peerPrincipal) source.principal = req.conn.tls.peerPrincipal;
    const destination: Obj = {};
    const info = req.conn.info;
    const dst = socketAddress(info.destinationIp ? `${info.destinationIp}:${info.port}` : undefined);
    if (dst) destination.address = dst;
    const self = req.conn.tls ? runtime.live.identity()?.spiffeId : undefined;
    if (self) destination.principal = self;
    const attributes: Obj = {
      source, destination, request: { time: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 }, http },
    };
    if (this.namespaces.length > 0) {
      const filterMetadata: Obj = {};
      for (const ns of this.namespaces) {
        const m = req.metadata.get(ns);
        if (m) filterMetadata[ns] = toStruct(m);
      }
      if (Object.keys(filterMetadata).length > 0) attributes.metadataContext = { filterMetadata };
    }
    if (this.includeTls && req.conn.tls?.sni) attributes.tlsSession = { sni: req.conn.tls.sni };
    if (input.contextExtensions && Object.keys(input.contextExtensions).length > 0) attributes.contextExtensions = input.contextExtensions;
    return attributes;
  }

  async check(runtime: Runtime, input: CheckInput): Promise<AuthzResult> {
    const outcome = await this.client.check(runtime, this.attributes(runtime, input));
    if (outcome.kind === 'error') return { kind: 'error', message: outcome.message };
    const m = outcome.response;
    const withMetadata = outcome.metadata ? { metadata: outcome.metadata } : {};
    if (outcome.kind === 'denied') {
      const denied = obj(m.deniedResponse);
      const s = obj(denied.status).code;
      const status = typeof s === 'number' ? s : typeof s === 'string' ? statusCodes[s] ?? 403 : 403;
      return {
        kind: 'denied', status: status || 403, body: str(denied.body),
        headers: arr(denied.headers).map(headerOption).map((h) => [h.key, h.value] as [string, string]),
        ...withMetadata,
      };
    }
    const ok = obj(m.okResponse);
    const headersToSet: Array<[string, string]> = [];
    const headersToAppend: Array<[string, string]> = [];
    for (const h of arr(ok.headers).map(headerOption)) (h.append ? headersToAppend : headersToSet).push([h.key, h.value]);
    return {
      kind: 'ok',
      headersToSet,
      headersToAppend,
      headersToRemove: strs(ok.headersToRemove).map((x) => x.toLowerCase()),
      responseHeadersToAdd: arr(ok.responseHeadersToAdd).map(headerOption).map((h) => [h.key, h.value] as [string, string]),
      ...withMetadata,
    };
  }
}
