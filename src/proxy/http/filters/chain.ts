// The HTTP filter chain of one connection manager. In: its `http_filters` (engine.ts httpFiltersOf, one list per
// config version) and the registry's StageFactories; out: the stages in order, built once per list and runtime,
// and FilterRun, which walks one request through them and hands it to the router step of its owner (the Exchange,
// a WebSocket upgrade) when every stage called next(). The router filter ends the chain (entries after it are
// not run); a filter type the registry does not know makes every request of that chain answer 500 — the proxy
// never silently skips a filter it was given. A stage that throws answers 500. A chain of only the router has no
// stages: its owner runs the router step directly, without a FilterRun; so does a chain whose stages are all
// gated by the route (fault, CORS) for a route that asks none of them for anything.
// A jwt_authn stage whose providers say clear_route_cache clears the route once it put a verified payload in the
// dynamic metadata or added a claim header (Envoy's condition): the route is chosen again (by the owner, with the
// headers and metadata as they are then) the next time a stage or the router reads it, as Envoy recomputes a
// cleared route on its next use.
import type { HttpRequest } from '../../routing/request.ts';
import type { RouteResult } from '../../routing/engine.ts';
import type { HttpFilter } from '../../routing/route-action.ts';
import type { ConnContext, ResponseFlag, Runtime } from '../../runtime.ts';
import type { HeaderBag } from '../headers.ts';
import type { LocalReply } from '../local-reply.ts';
import { routeGate } from './gate.ts';
import { STAGES } from './registry.ts';
import type { DynamicMetadata, FilterRequest, Stage } from './types.ts';
import { arr, isObj, obj, str } from '../../routing/envoy-values.ts';

export const ROUTER_TYPE = 'envoy.extensions.filters.http.router.v3.Router';

/** Filter types whose stages never edit request headers (the upstream request needs no rebuild after them). */
const READ_ONLY_TYPES: ReadonlySet<string> = new Set([
  'envoy.extensions.filters.http.fault.v3.HTTPFault',
  'envoy.extensions.filters.http.cors.v3.Cors',
  'envoy.extensions.filters.http.grpc_web.v3.GrpcWeb',
  'envoy.extensions.filters.http.rbac.v3.RBAC',
  // Writes dynamic metadata only.
  'weft.v1.IstioAuthn',
]);

export interface HttpChain {
  /** The stages before the router, in `http_filters` order. */
  readonly stages: readonly Stage[];
  /** When every stage only acts on routes that ask for it (fault, CORS): whether this route needs the chain at
   * all. Undefined: every request runs the chain. */
  readonly needed: ((route: RouteResult) => boolean) | undefined;
  /** The filter name of each stage. */
  readonly names: readonly string[];
  /** Some stage may add or remove request headers: the owner applies `request.headers` edits upstream. */
  readonly editsHeaders: boolean;
  /** Per stage, what jwt_authn writes for its providers with clear_route_cache (payload_in_metadata keys, claim
   * header names): present after the stage, it cleared the route cache. Undefined when no stage ever clears it. */
  readonly clearsRoute?: ReadonlyArray<RouteClearing | undefined>;
}

export interface RouteClearing {
  readonly metadataKeys: readonly string[];
  readonly headers: readonly string[];
}

const ROUTER_ONLY: HttpChain = { stages: [], names: [], editsHeaders: false, needed: undefined };

const JWT_AUTHN_TYPE = 'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication';
const JWT_AUTHN_METADATA = 'envoy.filters.http.jwt_authn';

/** What a jwt_authn config's providers that clear the route cache write when a token verifies. */
function routeClearing(f: HttpFilter): RouteClearing | undefined {
  if (f.type !== JWT_AUTHN_TYPE || !isObj(f.config.providers)) return undefined;
  const clearing = Object.values(f.config.providers).map(obj).filter((p) => p.clearRouteCache === true);
  const metadataKeys = clearing.map((p) => str(p.payloadInMetadata)).filter((k) => k !== '');
  const headers = clearing.flatMap((p) => arr(p.claimToHeaders).map((c) => str(c.headerName).toLowerCase())).filter((h) => h !== '');
  return metadataKeys.length > 0 || headers.length > 0 ? { metadataKeys, headers } : undefined;
}


const chains = new WeakMap<readonly HttpFilter[], { runtime: Runtime; chain: HttpChain }>();

function refuse(message: string): Stage {
  return (req) => req.reply({ status: 500, body: message }, [], 'filter_chain_not_supported');
}

function build(filters: readonly HttpFilter[], runtime: Runtime): HttpChain {
  const stages: Stage[] = [];
  const names: string[] = [];
  const clears: Array<RouteClearing | undefined> = [];
  let editsHeaders = false;
  for (const f of filters) {
    if (f.type === ROUTER_TYPE || (f.type === '' && f.name === 'envoy.filters.http.router')) break;
    const factory = STAGES.get(f.type);
    if (!factory) {
      return { stages: [refuse(`HTTP filter "${f.name}" (${f.type || 'no type'}) is not supported by this proxy`)], names: [f.name], editsHeaders: false, needed: undefined };
    }
    const stage = factory(f, runtime);
    if (!stage) continue;
    stages.push(stage);
    names.push(f.name);
    clears.push(routeClearing(f));
    if (!READ_ONLY_TYPES.has(f.type)) editsHeaders = true;
  }
  if (stages.length === 0) return ROUTER_ONLY;
  const gates = stages.map(routeGate);
  const needed = gates.every((g) => g !== undefined)
    ? (route: RouteResult) => {
      for (const g of gates) if (g!(route)) return true;
      return false;
    }
    : undefined;
  return { stages, names, editsHeaders, needed, ...(clears.some((c) => c !== undefined) ? { clearsRoute: clears } : {}) };
}

/** The chain for a connection manager's filter list, built on first use. */
export function httpChain(filters: readonly HttpFilter[], runtime: Runtime): HttpChain {
  const c = chains.get(filters);
  if (c && c.runtime === runtime) return c.chain;
  const chain = build(filters, runtime);
  chains.set(filters, { runtime, chain });
  return chain;
}

/** What a FilterRun reports to: the request's owner. */
export interface ChainOwner {
  /** The downstream went away or the request was answered. */
  readonly answered: boolean;
  filterReply(r: LocalReply, flags: readonly ResponseFlag[], raw: boolean): void;
  filterFlag(f: ResponseFlag): void;
  /** A stage (or the router step) threw: answer 500 unless already answered. */
  filterFailed(err: unknown): void;
  /** Every stage passed: the router executes the route's action. */
  routerStep(): void;
  /** The request body for a stage that needs it before the router (ext_authz with_request_body); an owner
   * without one has no body to give. */
  readBody?(maxBytes: number, allowPartial: boolean): Promise<{ body: Buffer; partial: boolean } | 'too-large'>;
  /** The route chosen again with the metadata the stages wrote (after one cleared the route cache); undefined
   * when the owner's routes do not depend on metadata (the route stays). */
  reroute?(metadata: DynamicMetadata): RouteResult | undefined;
}

/** One request's walk through a chain; the FilterRequest its stages see. */
export class FilterRun implements FilterRequest {
  readonly runtime: Runtime;
  readonly conn: ConnContext;
  readonly request: HttpRequest;
  details: string | undefined = undefined;
  authzCache: { rawPath: string; attributes: unknown } | undefined = undefined;
  private current: RouteResult;
  /** A stage cleared the route cache: the route is chosen again on its next use. */
  private routeCleared = false;
  private readonly chain: HttpChain;
  private readonly owner: ChainOwner;
  private index = 0;
  private ended = false;
  private meta: DynamicMetadata | undefined = undefined;
  private extraHeaders: Record<string, string> | undefined = undefined;
  private hints: Record<string, string> | undefined = undefined;
  /** The request's headers before the first stage as name, value array, name, … (only when a stage may edit
   * them). Stages never edit a value array in place (they set a new array or delete the name), so an array still
   * present is an unchanged header. A flat array, not a Map copy: one allocation per request. */
  private before: Array<string | string[]> | undefined;
  /** The request's path before the first stage (jwt_authn may take a token out of the query string). */
  private readonly pathBefore: string;
  readonly next: () => void;

  constructor(chain: HttpChain, owner: ChainOwner, runtime: Runtime, conn: ConnContext, request: HttpRequest, route: RouteResult) {
    this.chain = chain;
    this.owner = owner;
    this.runtime = runtime;
    this.conn = conn;
    this.request = request;
    this.current = route;
    this.before = chain.editsHeaders ? snapshot(request.headers) : undefined;
    this.pathBefore = request.path;
    this.next = () => this.step();
  }

  /** The routing decision, chosen again first when a stage cleared the route cache. */
  get route(): RouteResult {
    if (this.routeCleared) this.refreshRoute();
    return this.current;
  }

  private refreshRoute(): void {
    this.routeCleared = false;
    const r = this.owner.reroute?.(this.metadata);
    if (r) this.current = r;
  }

  /** Whether the stage at `i` just cleared the route cache (a provider's verified payload is in the metadata, or
   * its claim header in the request: jwt_authn drops such headers a client sent). */
  private cleared(i: number): boolean {
    const c = this.chain.clearsRoute?.[i];
    if (!c) return false;
    const written = this.meta?.get(JWT_AUTHN_METADATA);
    if (written !== undefined && c.metadataKeys.some((k) => written[k] !== undefined)) return true;
    return c.headers.some((h) => this.request.headers.has(h));
  }

  get metadata(): DynamicMetadata {
    return (this.meta ??= new Map());
  }

  get responseHeaders(): Record<string, string> {
    return (this.extraHeaders ??= {});
  }

  get logHints(): Record<string, string> {
    return (this.hints ??= {});
  }

  /** Response headers the stages added, if any (without allocating). */
  get addedResponseHeaders(): Record<string, string> | undefined {
    return this.extraHeaders !== undefined && hasKeys(this.extraHeaders) ? this.extraHeaders : undefined;
  }

  get hintsIfAny(): Readonly<Record<string, string>> | undefined {
    return this.hints !== undefined && hasKeys(this.hints) ? this.hints : undefined;
  }

  get metadataIfAny(): DynamicMetadata | undefined {
    return this.meta;
  }

  get done(): boolean {
    return this.ended || this.owner.answered;
  }

  /** Runs the next stage, or the router after the last one. */
  step(): void {
    if (this.done) return;
    if (this.chain.clearsRoute && this.index > 0 && this.cleared(this.index - 1)) this.routeCleared = true;
    const stage = this.chain.stages[this.index++];
    try {
      if (stage === undefined) {
        this.ended = true;
        // The RBAC stages' attributes are done with: a request waiting on its upstream need not keep them.
        this.authzCache = undefined;
        if (this.routeCleared) this.refreshRoute();
        this.owner.routerStep();
        // The router step applied the header edits (synchronously): a request waiting on its upstream need not
        // keep the snapshot (the in-flight requests are what every young-generation collection copies).
        this.before = undefined;
      } else {
        stage(this, this.next);
      }
    } catch (err) {
      // Also reached from an asynchronous stage's callback: an exception must never escape into it.
      if (this.owner.answered) return;
      this.ended = true;
      this.owner.filterFailed(err);
    }
  }

  reply(r: LocalReply, flags: ResponseFlag[], details?: string, raw = false): void {
    if (this.done) return;
    this.ended = true;
    if (details !== undefined) this.details = details;
    this.owner.filterReply(r, flags, raw);
  }

  flag(f: ResponseFlag): void {
    this.owner.filterFlag(f);
  }

  /** The request body, read before the router and kept for it (ext_authz with_request_body). */
  readBody(maxBytes: number, allowPartial: boolean): Promise<{ body: Buffer; partial: boolean } | 'too-large'> {
    return this.owner.readBody ? this.owner.readBody(maxBytes, allowPartial) : Promise.resolve({ body: Buffer.alloc(0), partial: false });
  }

  /** Applies the stages' edits of `request.headers` to the upstream header bag (names lowercase). A removed
   * header becomes undefined there (the upstream request skips it): deleting a property would turn the bag into
   * a slow dictionary object for the rest of the request. */
  applyHeaderEdits(upstream: HeaderBag): void {
    const before = this.before;
    if (!before) return;
    const now = this.request.headers;
    let kept = 0;
    for (let i = 0; i < before.length; i += 2) {
      const k = before[i] as string;
      const was = before[i + 1] as string[];
      const v = now.get(k);
      if (v === undefined) {
        if (upstream[k] !== undefined) upstream[k] = undefined;
        continue;
      }
      kept++;
      // A replaced array: an edit only when the value differs (a stage may set a header to what it was).
      if (v !== was) {
        const joined = v.join(',');
        if (was.join(',') !== joined) upstream[k] = joined;
      }
    }
    // Names the stages added (rare): in the order they were added.
    if (now.size > kept) {
      now.forEach((v, k) => {
        if (!hasName(before, k)) upstream[k] = v.join(',');
      });
    }
    // A stage changed the query string: the upstream path (rewritten or not) takes the new one.
    const path = this.request.path;
    const sent = upstream[':path'];
    if (path !== this.pathBefore && typeof sent === 'string') {
      const q = path.indexOf('?');
      const cut = sent.indexOf('?');
      upstream[':path'] = (cut < 0 ? sent : sent.slice(0, cut)) + (q < 0 ? '' : path.slice(q));
    }
  }
}

function snapshot(headers: ReadonlyMap<string, string[]>): Array<string | string[]> {
  const out = new Array<string | string[]>(headers.size * 2);
  let i = 0;
  headers.forEach((v, k) => {
    out[i++] = k;
    out[i++] = v;
  });
  return out;
}

function hasName(snap: ReadonlyArray<string | string[]>, name: string): boolean {
  for (let i = 0; i < snap.length; i += 2) if (snap[i] === name) return true;
  return false;
}

function hasKeys(o: object): boolean {
  for (const k in o) return k !== undefined;
  return false;
}
