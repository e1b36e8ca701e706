// The HTTP filter chain's seam: each entry of a connection manager's `http_filters` list (in that order) becomes a
// Stage; the router is always the last one. A stage sees the request after routing was decided (Envoy picks the
// route before the first decoder filter runs and filters can read it), may read and write the request's dynamic
// metadata and headers, and either calls `next()` to continue or ends the request with a local reply.
// Stages are built once per filter list (a config version), never per request; a stage may be asynchronous
// (JWT verification, an external authorizer) but must not block when it has nothing to do.
import type { HttpRequest } from '../../routing/request.ts';
import type { RouteResult } from '../../routing/engine.ts';
import type { HttpFilter } from '../../routing/route-action.ts';
import type { ConnContext, ResponseFlag, Runtime } from '../../runtime.ts';
import type { LocalReply } from '../local-reply.ts';

/** Envoy's dynamic metadata: a struct per filter namespace (`envoy.filters.http.jwt_authn`, `istio_authn`, …). */
export type DynamicMetadata = Map<string, Record<string, unknown>>;

/** What one request offers the filters. */
export interface FilterRequest {
  readonly runtime: Runtime;
  /** The connection: original destination and source, terminated TLS (peer principal, SNI). */
  readonly conn: ConnContext;
  /** The request as the router saw it (path already normalized by the connection manager). Header changes made
   * here reach the upstream: filters that add or remove request headers edit `request.headers`, setting a new value
   * array or deleting the name, never editing an array in place (the chain finds edits by array identity). */
  readonly request: HttpRequest;
  /** The routing decision (route name, action with its per-route filter configs). */
  readonly route: RouteResult;
  readonly metadata: DynamicMetadata;
  /** Response headers to add to whatever answer the request gets (ext_authz headersToDownstreamOnAllow, CORS). */
  readonly responseHeaders: Record<string, string>;
  /** Envoy's response code details for the access log (`rbac_access_denied_matched_policy[…]`, …). */
  details: string | undefined;
  /** Access log hints: `audit` when an AUDIT (RBAC LOG) policy matched; shadow (dry-run) results. */
  readonly logHints: Record<string, string>;
  /** Ends the request with a proxy-made response (the stages after this one and the router do not run).
   * `raw`: answer as is even when the request is gRPC (no trailers-only grpc-status conversion; CORS preflights). */
  reply(r: LocalReply, flags: ResponseFlag[], details?: string, raw?: boolean): void;
  /** Adds a response flag to the request's record without answering (DI for an injected delay). */
  flag(f: ResponseFlag): void;
  /** The downstream went away or the request already ended: an asynchronous stage stops here. */
  readonly done: boolean;
  /** The RBAC stages' attributes of this request, built by the first of them and shared (rbac.ts). */
  authzCache?: { rawPath: string; attributes: unknown } | undefined;
}

/** One filter's handling of a request; `next()` runs the rest of the chain (at most once). */
export type Stage = (req: FilterRequest, next: () => void) => void;

/** Builds a filter's stage from its entry in `http_filters`; undefined = nothing to do for this config (skipped). */
export type StageFactory = (filter: HttpFilter, runtime: Runtime) => Stage | undefined;
