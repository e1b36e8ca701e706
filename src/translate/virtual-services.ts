// The VirtualServices one sidecar applies: visible from the workload's namespace, bound to the `mesh` gateway
// (no `gateways`, or `mesh` listed), with hosts made FQDNs and delegated http rules merged into their root.
// Gateway workloads take the same preparation with their own binding rule (boundVirtualServices).
// Snapshot in, a list in Istio's order out; nothing is recorded here (callers record what they apply).
import type { HTTPMatchRequest, HTTPRoute, TCPRoute, TLSRoute, VirtualService } from './vs-types.ts';
import type { TranslateContext } from './index.ts';
import { objectKey } from './names.ts';

export const MESH_GATEWAY = 'mesh';

/** One http rule ready to translate, with the namespace its destination hosts are relative to. */
export interface HttpRule {
  rule: HTTPRoute;
  /** Namespace of the VirtualService that wrote the rule (the delegate's, for delegated rules). */
  hostNamespace: string;
  /** Position in the root's http list, for fallback route names. */
  index: number;
}

export interface SidecarVirtualService {
  key: string;
  name: string;
  namespace: string;
  /** `spec.hosts` resolved relative to the VirtualService's namespace (wildcards kept). */
  hosts: readonly string[];
  http: readonly HttpRule[];
  tls: readonly TLSRoute[];
  tcp: readonly TCPRoute[];
  /** Delegate VirtualServices whose rules were merged in (their keys). */
  delegates: readonly string[];
}

const bindsMesh = (gateways: readonly string[] | undefined) => !gateways || gateways.length === 0 || gateways.includes(MESH_GATEWAY);

export function sidecarVirtualServices(ctx: TranslateContext): SidecarVirtualService[] {
  return boundVirtualServices(ctx, (vs) => bindsMesh(vs.spec?.gateways));
}

/** The VirtualServices visible from the workload's namespace that `binds` accepts, prepared as for sidecars. */
export function boundVirtualServices(ctx: TranslateContext, binds: (vs: VirtualService) => boolean): SidecarVirtualService[] {
  const { snapshot, workload } = ctx;
  const out: SidecarVirtualService[] = [];
  for (const vs of snapshot.virtualServicesFor(workload.namespace)) {
    const spec = vs.spec;
    const namespace = vs.metadata?.namespace ?? '';
    const name = vs.metadata?.name ?? '';
    // A VirtualService without hosts is a delegate: it only takes effect through a root that names it.
    if (!spec || !spec.hosts || spec.hosts.length === 0 || !binds(vs)) continue;
    const delegates: string[] = [];
    const http: HttpRule[] = [];
    (spec.http ?? []).forEach((rule, index) => {
      if (!rule.delegate) {
        http.push({ rule, hostNamespace: namespace, index });
        return;
      }
      const target = findDelegate(ctx, vs, rule.delegate.name ?? '', rule.delegate.namespace || namespace);
      // A missing delegate drops only this rule, as Istio does.
      if (!target) return;
      delegates.push(objectKey('VirtualService', target.metadata?.namespace ?? '', target.metadata?.name ?? ''));
      for (const child of target.spec?.http ?? []) {
        const merged = mergeRule(rule, child);
        if (merged) http.push({ rule: merged, hostNamespace: target.metadata?.namespace ?? '', index });
      }
    });
    out.push({
      key: objectKey('VirtualService', namespace, name),
      name,
      namespace,
      hosts: spec.hosts.map((h) => snapshot.resolveHost(h, namespace)),
      http,
      tls: spec.tls ?? [],
      tcp: spec.tcp ?? [],
      delegates,
    });
  }
  return out;
}

/** The delegate must exist, have no hosts, and be visible from the root's namespace. */
function findDelegate(ctx: TranslateContext, root: VirtualService, name: string, namespace: string): VirtualService | undefined {
  const rootNamespace = root.metadata?.namespace ?? '';
  return ctx.snapshot.virtualServicesFor(rootNamespace).find((v) =>
    v.metadata?.name === name && v.metadata?.namespace === namespace && (v.spec?.hosts ?? []).length === 0);
}

/**
 * A delegate rule under its root rule: the child's matches must each fall inside some root match (merged
 * field by field, child winning); unset child settings are inherited from the root. A child that conflicts
 * with every root match is dropped.
 */
function mergeRule(root: HTTPRoute, child: HTTPRoute): HTTPRoute | undefined {
  const match = mergeMatches(root.match ?? [], child.match ?? []);
  if (match === 'conflict') return undefined;
  const out: HTTPRoute = { ...child };
  if (match.length > 0) out.match = match;
  else delete out.match;
  out.name = !child.name ? root.name : root.name ? `${root.name}-${child.name}` : child.name;
  if (out.name === undefined) delete out.name;
  const inherit = ['rewrite', 'timeout', 'retries', 'fault', 'mirror', 'mirrorPercent', 'mirrorPercentage', 'corsPolicy', 'headers'] as const;
  for (const k of inherit) if (out[k] === undefined && root[k] !== undefined) (out as Record<string, unknown>)[k] = root[k];
  delete out.delegate;
  return out;
}

function mergeMatches(root: readonly HTTPMatchRequest[], child: readonly HTTPMatchRequest[]): HTTPMatchRequest[] | 'conflict' {
  if (root.length === 0) return [...child];
  if (child.length === 0) return [...root];
  const out: HTTPMatchRequest[] = [];
  for (const sub of child) {
    const fits = root.filter((r) => !matchConflicts(r, sub));
    if (fits.length === 0) return 'conflict';
    for (const r of fits) out.push(mergeMatch(r, sub));
  }
  return out;
}

function mergeMatch(root: HTTPMatchRequest, child: HTTPMatchRequest): HTTPMatchRequest {
  const out: HTTPMatchRequest = { ...child };
  const name = !child.name ? root.name : root.name ? `${root.name}-${child.name}` : child.name;
  if (name !== undefined) out.name = name;
  for (const k of ['uri', 'scheme', 'method', 'authority'] as const) if (out[k] === undefined && root[k] !== undefined) out[k] = root[k];
  for (const k of ['headers', 'withoutHeaders', 'queryParams'] as const) {
    if (root[k] || child[k]) out[k] = { ...root[k], ...child[k] };
  }
  if (!out.port && root.port) out.port = root.port;
  return out;
}

type StringMatch = HTTPMatchRequest['uri'];

/** Whether a child match can never fall inside the root match (Istio's rules: no regexes, prefixes nest). */
function matchConflicts(root: HTTPMatchRequest, leaf: HTTPMatchRequest): boolean {
  for (const k of ['uri', 'scheme', 'method', 'authority'] as const) if (stringConflict(root[k], leaf[k])) return true;
  for (const [k, v] of Object.entries(leaf.headers ?? {})) if (stringConflict(root.headers?.[k], v)) return true;
  for (const [k, v] of Object.entries(leaf.withoutHeaders ?? {})) if (stringConflict(root.headers?.[k], v)) return true;
  for (const [k, v] of Object.entries(leaf.queryParams ?? {})) if (stringConflict(root.queryParams?.[k], v)) return true;
  if (Boolean(root.ignoreUriCase) !== Boolean(leaf.ignoreUriCase)) return true;
  return Boolean(root.port && leaf.port && root.port !== leaf.port);
}

function stringConflict(root: StringMatch, leaf: StringMatch): boolean {
  if (!root || !leaf) return false;
  if (root.regex || leaf.regex) return true;
  if (root.exact) return Boolean(leaf.prefix) || leaf.exact !== root.exact;
  if (root.prefix) {
    if (leaf.prefix) return !leaf.prefix.startsWith(root.prefix);
    if (leaf.exact) return !leaf.exact.startsWith(root.prefix);
  }
  return true;
}
