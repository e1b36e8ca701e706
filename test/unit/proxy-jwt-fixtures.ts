// FilterRequest objects for driving one HTTP filter stage directly (jwt_authn, istio_authn, ext_authz): a real
// HttpRequest, dynamic metadata, and a recording reply; `runStage` resolves with how the stage ended (next or a
// local reply) and whether it decided synchronously.
import { makeHttpRequest } from '../../src/proxy/routing/request.ts';
import type { HttpRequest } from '../../src/proxy/routing/request.ts';
import type { LocalReply } from '../../src/proxy/http/local-reply.ts';
import type { FilterRequest, Stage } from '../../src/proxy/http/filters/types.ts';
import type { ConnContext, ResponseFlag, Runtime } from '../../src/proxy/runtime.ts';
import type { RouteResult } from '../../src/proxy/routing/engine.ts';

export interface RecordingRequest extends FilterRequest {
  replied: LocalReply | undefined;
  flags: ResponseFlag[];
  done: boolean;
}

export interface RequestInit {
  method?: string;
  host?: string;
  path?: string;
  scheme?: string;
  headers?: Record<string, string | string[]>;
  conn?: Partial<ConnContext>;
  /** The routing decision (per-route filter configs); no route by default. */
  route?: RouteResult;
}

export function filterRequest(init: RequestInit = {}, runtime?: Runtime): RecordingRequest {
  const request: HttpRequest = makeHttpRequest({
    method: init.method ?? 'GET', host: init.host ?? 'example.com', path: init.path ?? '/', scheme: init.scheme ?? 'http', headers: init.headers ?? {},
  });
  const conn = {
    kind: 'inbound', downstreamRemote: '10.0.0.9:40000', info: { direction: 'inbound', destinationIp: '10.0.0.1', port: 8080, sourceIp: '10.0.0.9' },
    plan: () => ({ kind: 'closed', reason: 'test' }),
    ...init.conn,
  } as ConnContext;
  const r: RecordingRequest = {
    runtime: runtime as Runtime,
    conn,
    request,
    route: init.route ?? { action: { kind: 'no-route' } },
    metadata: new Map(),
    responseHeaders: {},
    details: undefined,
    logHints: {},
    replied: undefined,
    flags: [],
    done: false,
    reply(rep, flags, details) {
      if (r.done) return;
      r.replied = rep;
      r.flags.push(...flags);
      r.details = details;
      r.done = true;
    },
    flag(f) {
      r.flags.push(f);
    },
  };
  return r;
}

export interface StageOutcome {
  kind: 'next' | 'reply';
  sync: boolean;
  req: RecordingRequest;
}

/** Runs a stage on a request; resolves once it called next() or replied (rejects after `timeoutMs`). */
export function runStage(stage: Stage, req: RecordingRequest, timeoutMs = 5000): Promise<StageOutcome> {
  return new Promise((resolve, reject) => {
    let sync = true;
    let settled = false;
    const settle = (kind: 'next' | 'reply') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ kind, sync, req });
    };
    const reply = req.reply;
    req.reply = (rep, flags, details, raw) => {
      reply(rep, flags, details, raw);
      settle('reply');
    };
    const timer = setTimeout(() => reject(new Error('the stage neither continued nor replied')), timeoutMs);
    stage(req, () => settle('next'));
    sync = false;
  });
}

/** A routing decision to a cluster whose route carries these per-route filter configs (by filter name). */
export function routeWith(perFilterConfig: Record<string, Record<string, unknown> | null>): RouteResult {
  const upstream = { name: 'app', found: true, endpoints: [], excluded: [] };
  return { route: 'r', action: { kind: 'cluster', via: 'http', cluster: 'app', upstream, perFilterConfig } } as RouteResult;
}
