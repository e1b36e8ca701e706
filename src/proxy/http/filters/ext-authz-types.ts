// What ext_authz's HTTP and gRPC authorizer clients share: the request to authorize (with the body when
// with_request_body asked for it), the three answers Envoy distinguishes (ok with header and metadata effects,
// denied with the authorizer's response, error), and header-name matchers from ListStringMatcher.
import { arr } from '../../routing/envoy-values.ts';
import { compileStringMatcher } from '../../routing/string-matcher.ts';
import type { FilterRequest } from './types.ts';

export interface CheckInput {
  req: FilterRequest;
  /** The buffered request body (with_request_body), possibly cut at max_request_bytes. */
  body?: Buffer;
  /** The body was cut at max_request_bytes (the check request says x-envoy-auth-partial-body: true). */
  partial?: boolean;
  /** The route's check_settings.context_extensions (gRPC authorizers get them in the CheckRequest). */
  contextExtensions?: Record<string, string>;
}

export type AuthzResult =
  | {
    kind: 'ok';
    /** Request headers set (overriding), appended, removed before the request goes upstream. */
    headersToSet: Array<[string, string]>;
    headersToAppend: Array<[string, string]>;
    headersToRemove: string[];
    /** Headers added to the response the client gets. */
    responseHeadersToAdd: Array<[string, string]>;
    /** Dynamic metadata under envoy.filters.http.ext_authz. */
    metadata?: Record<string, unknown>;
  }
  | { kind: 'denied'; status: number; body: string; headers: Array<[string, string]>; metadata?: Record<string, unknown> }
  | { kind: 'error'; message: string };

/** A test on lowercase header names. */
export type HeaderMatch = (name: string) => boolean;

/** envoy.type.matcher.v3.ListStringMatcher over header names; undefined when it has no patterns (not set). */
export function listMatcher(list: unknown): HeaderMatch | undefined {
  const patterns = arr((list as { patterns?: unknown } | undefined)?.patterns).map(compileStringMatcher);
  if (patterns.length === 0) return undefined;
  return (name) => patterns.some((p) => p(name));
}
