// The ext_authz HTTP filter (envoy.extensions.filters.http.ext_authz.v3.ExtAuthz) as a Stage. In: the filter
// config (http_service or grpc_service.envoy_grpc, failure_mode_allow, failure_mode_allow_header_add,
// status_on_error, with_request_body, filter_enabled, filter_enabled_metadata, deny_at_disable), the route's
// ExtAuthzPerRoute (disabled, check_settings); per request the authorizer's answer. Out: next() with the
// authorizer's header edits, response headers and dynamic metadata `envoy.filters.http.ext_authz`; a denial as the authorizer's status, body and allowed headers (flag UAEX,
// details ext_authz_denied); an error or timeout as status_on_error (403) with flag UAEX and details
// ext_authz_error — or, with failure_mode_allow, next() (x-envoy-auth-failure-mode-allowed: true when asked).
// A request that filter_enabled_metadata leaves out (Istio's CUSTOM policies mark their requests through the
// RBAC shadow rules) passes synchronously without a call. clear_route_cache is ignored: the route is not
// recomputed after the filters.
import { bool, fractionalPercent, has, isObj, obj, u32 } from '../../routing/envoy-values.ts';
import type { Obj } from '../../routing/envoy-values.ts';
import { envoyRoot } from '../../../translate/envoy/proto.ts';
import { compileMetadataMatcher } from '../../authz/metadata.ts';
import type { Runtime } from '../../runtime.ts';
import { GrpcAuthorizer } from './ext-authz-grpc.ts';
import { HttpAuthorizer } from './ext-authz-http.ts';
import type { AuthzResult, CheckInput } from './ext-authz-types.ts';
import type { FilterRequest, Stage, StageFactory } from './types.ts';

export const EXT_AUTHZ_TYPE = 'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
export const EXT_AUTHZ_METADATA = 'envoy.filters.http.ext_authz';
const statusCodes = envoyRoot.lookupEnum('envoy.type.v3.StatusCode').values;

/** A FilterRequest whose owner can buffer the request body for the authorizer (with_request_body). */
export interface BodyReader {
  readBody(maxBytes: number, allowPartial: boolean): Promise<{ body: Buffer; partial: boolean } | 'too-large'>;
}

function hasBodyReader(req: FilterRequest): req is FilterRequest & BodyReader {
  return typeof (req as Partial<BodyReader>).readBody === 'function';
}

function httpStatus(v: unknown, dflt: number): number {
  const code = obj(v).code;
  if (typeof code === 'number' && code > 0) return code;
  if (typeof code === 'string' && statusCodes[code] !== undefined) return statusCodes[code];
  return dflt;
}

interface Authorizer {
  check(runtime: Runtime, input: CheckInput): Promise<AuthzResult>;
}

function apply(req: FilterRequest, result: AuthzResult, next: () => void, failOpen: boolean, failOpenHeader: boolean, statusOnError: number): void {
  if (req.done) return;
  switch (result.kind) {
    case 'ok': {
      const h = req.request.headers;
      for (const [k, v] of result.headersToSet) h.set(k, [v]);
      for (const [k, v] of result.headersToAppend) h.set(k, [...(h.get(k) ?? []), v]);
      for (const k of result.headersToRemove) if (k !== '' && !k.startsWith(':') && k !== 'host') h.delete(k);
      for (const [k, v] of result.responseHeadersToAdd) {
        const prev = req.responseHeaders[k];
        req.responseHeaders[k] = prev === undefined ? v : `${prev},${v}`;
      }
      if (result.metadata) req.metadata.set(EXT_AUTHZ_METADATA, { ...req.metadata.get(EXT_AUTHZ_METADATA), ...result.metadata });
      next();
      return;
    }
    case 'denied': {
      if (result.metadata) req.metadata.set(EXT_AUTHZ_METADATA, { ...req.metadata.get(EXT_AUTHZ_METADATA), ...result.metadata });
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of result.headers) {
        const prev = headers[k];
        headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
      const reply = { status: result.status, headers, ...(result.body !== '' ? { body: result.body } : {}) };
      req.reply(reply, ['UAEX'], 'ext_authz_denied');
      return;
    }
    case 'error':
      if (failOpen) {
        if (failOpenHeader) req.request.headers.set('x-envoy-auth-failure-mode-allowed', ['true']);
        next();
        return;
      }
      req.reply({ status: statusOnError }, ['UAEX'], 'ext_authz_error');
  }
}

export function extAuthzStage(config: Obj, runtime: Runtime, name?: string): Stage {
  const authorizer: Authorizer | undefined = has(config, 'grpcService') ? new GrpcAuthorizer(config)
    : has(config, 'httpService') ? new HttpAuthorizer(config) : undefined;
  const failOpen = bool(config.failureModeAllow, false);
  const failOpenHeader = bool(config.failureModeAllowHeaderAdd, false);
  const statusOnError = httpStatus(config.statusOnError, 403);
  const enabledMetadata = has(config, 'filterEnabledMetadata') ? compileMetadataMatcher(config.filterEnabledMetadata) : undefined;
  const enabledPercent = has(config, 'filterEnabled') ? fractionalPercent(obj(config.filterEnabled).defaultValue) : undefined;
  const denyAtDisable = bool(obj(config.denyAtDisable).defaultValue, false);
  const withBody = has(config, 'withRequestBody') ? obj(config.withRequestBody) : undefined;

  const finish = (req: FilterRequest, next: () => void, result: AuthzResult) => apply(req, result, next, failOpen, failOpenHeader, statusOnError);

  const check = (req: FilterRequest, next: () => void, input: CheckInput) => {
    if (!authorizer) return finish(req, next, { kind: 'error', message: 'ext_authz has neither http_service nor grpc_service' });
    authorizer.check(runtime, input).then(
      (r) => finish(req, next, r),
      (err: unknown) => finish(req, next, { kind: 'error', message: String(err) }),
    );
  };

  return (req, next) => {
    // ExtAuthzPerRoute: disabled skips the filter for the route; check_settings adds context extensions and may
    // turn body buffering off or set its own.
    const action = req.route.action;
    const per = name !== undefined && action.kind === 'cluster' ? action.perFilterConfig?.[name] : undefined;
    if (per === null || (per && bool(per.disabled, false))) return next();
    const settings = per ? obj(per.checkSettings) : undefined;
    const contextExtensions = settings && isObj(settings.contextExtensions) ? settings.contextExtensions as Record<string, string> : undefined;
    const routeBody = settings && has(settings, 'withRequestBody') ? obj(settings.withRequestBody) : undefined;
    const bodyOff = settings !== undefined && bool(settings.disableRequestBodyBuffering, false);
    const enabled = (!enabledMetadata || enabledMetadata(req.metadata)) && (enabledPercent === undefined || runtime.random() * 100 < enabledPercent);
    if (!enabled) {
      if (denyAtDisable) return req.reply({ status: statusOnError }, ['UAEX'], 'ext_authz_error');
      return next();
    }
    const body = bodyOff ? undefined : routeBody ?? withBody;
    const extensions = contextExtensions ? { contextExtensions } : {};
    if (body && hasBodyReader(req)) {
      req.readBody(u32(body.maxRequestBytes) ?? 0, bool(body.allowPartialMessage, false)).then(
        (b) => {
          if (req.done) return;
          if (b === 'too-large') return req.reply({ status: 413, body: 'Payload Too Large' }, [], 'request_payload_too_large');
          check(req, next, { req, body: b.body, partial: b.partial, ...extensions });
        },
        (err: unknown) => finish(req, next, { kind: 'error', message: String(err) }),
      );
      return;
    }
    check(req, next, { req, ...extensions });
  };
}

export const extAuthzFactory: StageFactory = (filter, runtime) => extAuthzStage(filter.config, runtime, filter.name);
