// Reference resolution for the mesh kinds, over a read-only view of the cluster (pure: values in, values out).
// In: a resource (`kind`, `metadata`, `spec`) and a `MeshView`. Out: `RefReport` — references that do not resolve
// (errors, IST0101: they make ResolvedRefs False) and selectors that select nothing (warnings: reported in
// validationMessages only, since workloads come and go).
// Gateway credentialName Secrets are checked where the gateway workloads run (Istio's rule: the Secret is read in
// the gateway workload's namespace, never the Gateway's): a missing one is an error naming it.
import { hostMatches } from '../model/hosts.ts';
import { selectorMatches } from '../model/kube.ts';
import type { ExtensionProvider, JwksFetch, Labels } from '../model/types.ts';
import type { Finding } from '../validate/result.ts';
import { at } from '../validate/result.ts';
import { CODE_JWKS_FETCH_FAILED, CODE_NO_WORKLOADS, CODE_REFERENCE_NOT_FOUND, type RefReport } from './conditions.ts';
import { ruleJwksSource } from './jwks/uris.ts';
import { resolveCredential, serverCredentialRefs, type SecretLookup } from './gateway/credentials.ts';

export type { Labels };

export interface DestinationRuleRef {
  namespace: string;
  /** The host as written in the DestinationRule (possibly short, possibly a wildcard). */
  host: string;
  subsets: readonly string[];
}

/** The lookups reference resolution needs; the operator implements it over its informer caches. */
export interface MeshView {
  /** Namespace whose policies apply mesh-wide (weft-system). */
  readonly rootNamespace: string;
  /** DNS suffix of Kubernetes Services (default cluster.local). */
  readonly clusterDomain?: string;
  hasGateway(namespace: string, name: string): boolean;
  hasVirtualService(namespace: string, name: string): boolean;
  hasService(namespace: string, name: string): boolean;
  /** Every host declared by a ServiceEntry, in any namespace. */
  serviceEntryHosts(): Iterable<string>;
  destinationRules(): Iterable<DestinationRuleRef>;
  /** Label sets of workloads (pods and WorkloadEntries) in `namespace`, or in every namespace when undefined. */
  workloadLabels(namespace: string | undefined): Iterable<Labels>;
  /** Namespaces of the gateway workloads (pods in gateway mode) whose labels `selector` selects. Without it,
   * credentials are not checked. */
  gatewayNamespaces?(selector: Labels): Iterable<string>;
  /** Secrets of one namespace, as gateway credentials are read there. */
  credentialSecrets?(namespace: string): SecretLookup;
  /** The mesh config's extensionProviders (CUSTOM AuthorizationPolicies name them); undefined: not checked. */
  extensionProviders?(): readonly ExtensionProvider[] | undefined;
  /** What fetching a RequestAuthentication's jwksUri gave (undefined while pending or without a fetcher). */
  jwks?(uri: string): JwksFetch | undefined;
}

export interface MeshResource {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: unknown;
}

type Obj = Record<string, unknown>;

const asObj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const asArr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const asStr = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

class Report implements RefReport {
  readonly errors: Finding[] = [];
  readonly warnings: Finding[] = [];
  missing(field: string, message: string): void {
    this.errors.push({ field, message, code: CODE_REFERENCE_NOT_FOUND });
  }
  warn(field: string, message: string, code: string): void {
    this.warnings.push({ field, message, code });
  }
}

export function resolveRefs(obj: MeshResource, view: MeshView): RefReport {
  const r = new Report();
  const ns = obj.metadata?.namespace ?? 'default';
  const spec = asObj(obj.spec) ?? {};
  switch (obj.kind) {
    case 'VirtualService':
      virtualService(spec, ns, view, r);
      break;
    case 'DestinationRule':
      destinationRule(spec, ns, view, r);
      break;
    case 'Gateway':
      gateway(spec, view, r);
      gatewayCredentials(spec, view, r);
      break;
    case 'ServiceEntry':
      selects(asObj(spec.workloadSelector)?.labels, 'spec.workloadSelector.labels', ns, view, r);
      break;
    case 'PeerAuthentication':
    case 'AuthorizationPolicy':
    case 'RequestAuthentication':
      selects(asObj(spec.selector)?.matchLabels, 'spec.selector.matchLabels', ns, view, r);
      targetRefs(spec, ns, view, r);
      if (obj.kind === 'AuthorizationPolicy') customProvider(spec, view, r);
      if (obj.kind === 'RequestAuthentication') jwksFetched(spec, view, r);
      break;
    default:
      break;
  }
  return { errors: r.errors, warnings: r.warnings };
}

// ---- VirtualService ---------------------------------------------------------------------------------

function virtualService(spec: Obj, ns: string, view: MeshView, r: Report): void {
  asArr(spec.gateways).forEach((g, i) => gatewayRef(g, at('spec.gateways', i), ns, view, r));
  for (const section of ['http', 'tls', 'tcp'] as const) {
    asArr(spec[section]).forEach((rule, i) => {
      const ro = asObj(rule) ?? {};
      const base = at('spec', section, i);
      asArr(ro.match).forEach((m, j) =>
        asArr(asObj(m)?.gateways).forEach((g, k) => gatewayRef(g, at(base, 'match', j, 'gateways', k), ns, view, r)),
      );
      asArr(ro.route).forEach((d, j) => destination(asObj(d)?.destination, at(base, 'route', j, 'destination'), ns, view, r));
      if (section !== 'http') return;
      if (ro.mirror !== undefined) destination(ro.mirror, at(base, 'mirror'), ns, view, r);
      asArr(ro.mirrors).forEach((m, j) => destination(asObj(m)?.destination, at(base, 'mirrors', j, 'destination'), ns, view, r));
      const delegate = asObj(ro.delegate);
      const name = asStr(delegate?.name);
      if (name) {
        const dns = asStr(delegate?.namespace) ?? ns;
        if (!view.hasVirtualService(dns, name)) r.missing(at(base, 'delegate'), `VirtualService "${dns}/${name}" not found`);
      }
    });
  }
}

/** `mesh`, `name` (same namespace), `ns/name`, or the older `name.ns[.svc.<domain>]` form. */
export function parseGatewayName(ref: string, ns: string): { namespace: string; name: string } | undefined {
  if (ref === 'mesh') return undefined;
  const slash = ref.indexOf('/');
  if (slash >= 0) return { namespace: ref.slice(0, slash), name: ref.slice(slash + 1) };
  const parts = ref.split('.');
  if (parts.length >= 2) return { name: parts[0]!, namespace: parts[1]! };
  return { namespace: ns, name: ref };
}

function gatewayRef(g: unknown, field: string, ns: string, view: MeshView, r: Report): void {
  const ref = asStr(g);
  if (!ref) return;
  const gw = parseGatewayName(ref, ns);
  if (gw && !view.hasGateway(gw.namespace, gw.name)) r.missing(field, `Gateway "${gw.namespace}/${gw.name}" not found`);
}

function destination(d: unknown, field: string, ns: string, view: MeshView, r: Report): void {
  const dest = asObj(d);
  const host = asStr(dest?.host)?.toLowerCase();
  if (!dest || !host) return;
  if (!hostKnown(host, ns, view)) {
    r.missing(at(field, 'host'), `host "${host}" not found (no Service or ServiceEntry declares it)`);
    return;
  }
  const subset = asStr(dest.subset);
  if (subset && !subsetsFor(host, ns, view).has(subset)) {
    r.missing(at(field, 'subset'), `subset "${subset}" not found in any DestinationRule for host "${hostForms(host, ns, domain(view)).at(-1)}"`);
  }
}

// ---- DestinationRule, Gateway, selectors --------------------------------------------------------------

function destinationRule(spec: Obj, ns: string, view: MeshView, r: Report): void {
  const host = asStr(spec.host)?.toLowerCase();
  // A wildcard host is a pattern over whatever exists, not a reference.
  if (host && !host.startsWith('*') && !hostKnown(host, ns, view)) {
    r.missing('spec.host', `host "${host}" not found (no Service or ServiceEntry declares it)`);
  }
  selects(asObj(spec.workloadSelector)?.matchLabels, 'spec.workloadSelector.matchLabels', ns, view, r);
}

function gateway(spec: Obj, view: MeshView, r: Report): void {
  const selector = labelsOf(spec.selector);
  // Gateway selectors pick gateway workloads in any namespace.
  if (selector && !anyMatch(view.workloadLabels(undefined), selector)) {
    r.warn('spec.selector', `Referenced selector not found: "${describeSelector(selector)}"`, CODE_REFERENCE_NOT_FOUND);
  }
}

/** Each credentialName must resolve in the namespace of every gateway workload the Gateway selects. */
function gatewayCredentials(spec: Obj, view: MeshView, r: Report): void {
  if (!view.gatewayNamespaces || !view.credentialSecrets) return;
  const namespaces = [...new Set(view.gatewayNamespaces(labelsOf(spec.selector) ?? {}))].sort();
  asArr(spec.servers).forEach((server, i) => {
    for (const ref of serverCredentialRefs(server)) {
      for (const ns of namespaces) {
        const res = resolveCredential(ref, view.credentialSecrets!(ns), ns);
        if ('problem' in res) r.missing(at('spec.servers', i, 'tls', 'credentialName'), res.problem.message);
      }
    }
  });
}

function selects(sel: unknown, field: string, ns: string, view: MeshView, r: Report): void {
  const selector = labelsOf(sel);
  if (!selector) return;
  // Policies in the root namespace apply to matching workloads in every namespace.
  const scope = ns === view.rootNamespace ? undefined : ns;
  if (!anyMatch(view.workloadLabels(scope), selector)) {
    r.warn(field, `No matching workloads for this resource with the following labels: ${describeSelector(selector)}`, CODE_NO_WORKLOADS);
  }
}

/** targetRef/targetRefs naming a Service must find it; other kinds (Gateway API gateways) are not checked. */
function targetRefs(spec: Obj, ns: string, view: MeshView, r: Report): void {
  const refs: Array<[unknown, string]> = [];
  if (spec.targetRef !== undefined) refs.push([spec.targetRef, 'spec.targetRef']);
  asArr(spec.targetRefs).forEach((t, i) => refs.push([t, at('spec.targetRefs', i)]));
  for (const [t, field] of refs) {
    const ref = asObj(t);
    const name = asStr(ref?.name);
    const group = asStr(ref?.group) ?? '';
    if (!name || ref?.kind !== 'Service' || (group !== '' && group !== 'core')) continue;
    const tns = asStr(ref.namespace) ?? ns;
    if (!view.hasService(tns, name)) r.missing(field, `Service "${tns}/${name}" not found`);
  }
}

/** A CUSTOM policy's provider must be an authorizer of the mesh config; without it the policy fails closed. */
function customProvider(spec: Obj, view: MeshView, r: Report): void {
  if (spec.action !== 'CUSTOM') return;
  const providers = view.extensionProviders?.();
  if (!providers) return;
  const name = asStr(asObj(spec.provider)?.name);
  if (!name) return; // the validator refuses CUSTOM without a provider
  const p = providers.find((x) => x.name === name);
  const denied = 'requests this policy selects are denied (fails closed)';
  if (!p) {
    r.missing('spec.provider.name', `extension provider "${name}" is not in the mesh config (extensionProviders of ConfigMap weft in the root namespace): ${denied}`);
  } else if (!p.envoyExtAuthzHttp && !p.envoyExtAuthzGrpc) {
    const kind = Object.keys(p).find((k) => k !== 'name') ?? 'unknown';
    r.missing('spec.provider.name', `extension provider "${name}" is a ${kind} provider, not an authorizer (envoyExtAuthzHttp or envoyExtAuthzGrpc): ${denied}`);
  } else {
    // `[<namespace>/]<hostname>`: the authorizer must be a Service or ServiceEntry host, else it cannot be reached.
    const authz = p.envoyExtAuthzHttp ?? p.envoyExtAuthzGrpc!;
    const service = authz.service ?? '';
    const host = service.includes('/') ? service.slice(service.indexOf('/') + 1) : service;
    const ns = service.includes('/') ? service.slice(0, service.indexOf('/')) : view.rootNamespace;
    if (host && !hostKnown(host.toLowerCase(), ns, view)) {
      const onError = authz.failOpen ? 'let through (failOpen)' : `answered with ${authz.statusOnError ?? '403'} (statusOnError)`;
      r.missing('spec.provider.name', `extension provider "${name}" names service "${service}", which no Service or ServiceEntry declares: the authorizer cannot be reached and requests this policy selects are ${onError}`);
    }
  }
}

/** Each jwksUri whose keys could not be fetched (and were never fetched before). */
function jwksFetched(spec: Obj, view: MeshView, r: Report): void {
  if (!view.jwks) return;
  asArr(spec.jwtRules).forEach((rule, i) => {
    const src = ruleJwksSource(rule);
    if (!src) return;
    const got = view.jwks!(src.key);
    if (got && 'error' in got) {
      const field = src.discover ? 'issuer' : asStr(asObj(rule)?.jwksUri) ? 'jwksUri' : 'jwks_uri';
      const from = src.discover ? `discovered for issuer "${src.key}" (no jwksUri)` : `fetched from "${src.key}"`;
      r.errors.push({
        field: at('spec.jwtRules', i, field),
        message: `keys could not be ${from}: ${got.error}; requests with a token of this issuer are rejected until they are`,
        code: CODE_JWKS_FETCH_FAILED,
      });
    }
  });
}

function labelsOf(v: unknown): Labels | undefined {
  const o = asObj(v);
  if (!o) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) if (typeof val === 'string') out[k] = val;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Whether `labels` has every pair of `selector` (src/model's rule; undefined labels are an empty set). */
export const matches = (labels: Labels | undefined, selector: Labels): boolean => selectorMatches(selector, labels ?? {});

function anyMatch(workloads: Iterable<Labels>, selector: Labels): boolean {
  for (const l of workloads) if (matches(l, selector)) return true;
  return false;
}

function describeSelector(s: Labels): string {
  return Object.keys(s)
    .sort()
    .map((k) => `${k}=${s[k]}`)
    .join(',');
}

// ---- hosts -------------------------------------------------------------------------------------------

const domain = (view: MeshView): string => view.clusterDomain ?? 'cluster.local';

/**
 * The names a host may stand for: itself, and when it has a Service's shape (`name`, `name.ns`, `name.ns.svc`)
 * that Service's full name. A short name is relative to the resource's namespace.
 */
export function hostForms(host: string, ns: string, clusterDomain = 'cluster.local'): string[] {
  const svc = serviceOf(host, ns, clusterDomain);
  const full = svc ? `${svc.name}.${svc.namespace}.svc.${clusterDomain}` : host;
  // A bare short name means nothing outside its namespace, so only its full form takes part in matching.
  if (full === host || !host.includes('.')) return [full];
  return [host, full];
}

/** The Kubernetes Service a host names: `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.<domain>`. */
export function serviceOf(host: string, ns: string, clusterDomain = 'cluster.local'): { name: string; namespace: string } | undefined {
  const parts = host.split('.');
  const [name, sns] = parts;
  if (!name || name.startsWith('*')) return undefined;
  if (parts.length === 1) return { name, namespace: ns };
  if (!sns) return undefined;
  if (parts.length === 2) return { name, namespace: sns };
  if (parts[2] !== 'svc') return undefined;
  if (parts.length === 3 || parts.slice(3).join('.') === clusterDomain) return { name, namespace: sns };
  return undefined;
}

/** Whether a (possibly wildcard) pattern covers a (possibly wildcard) host: src/model's hostMatches. */
export const hostCovers = hostMatches;

export function hostKnown(host: string, ns: string, view: MeshView): boolean {
  const d = domain(view);
  const svc = serviceOf(host, ns, d);
  if (svc && view.hasService(svc.namespace, svc.name)) return true;
  const forms = hostForms(host, ns, d);
  for (const h of view.serviceEntryHosts()) {
    const p = h.toLowerCase();
    if (forms.some((f) => hostCovers(p, f))) return true;
  }
  return false;
}

function subsetsFor(host: string, ns: string, view: MeshView): Set<string> {
  const d = domain(view);
  const forms = hostForms(host, ns, d);
  const out = new Set<string>();
  for (const dr of view.destinationRules()) {
    const patterns = hostForms(dr.host.toLowerCase(), dr.namespace, d);
    if (patterns.some((p) => forms.some((f) => hostCovers(p, f)))) for (const s of dr.subsets) out.add(s);
  }
  return out;
}
