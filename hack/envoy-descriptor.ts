// Generates src/translate/envoy/descriptor.json: a protobufjs JSON descriptor of the Envoy v3 types weft writes
// (the four resource kinds, every type that goes into an Any, weft.v1.ProxyBundle) and everything they reference,
// loaded from Envoy's own .proto files (node_modules/@grpc/grpc-js-xds/deps) and proto/. Options, comments and
// unreferenced types are left out to keep it small. Never edited by hand; a unit test fails when it is stale.
//   node hack/envoy-descriptor.ts [--out FILE]
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import protobuf from 'protobufjs';

const root = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { out: { type: 'string', default: join(root, 'src/translate/envoy/descriptor.json') } } });

const deps = join(root, 'node_modules/@grpc/grpc-js-xds/deps');
const includeDirs = [
  join(root, 'proto'),
  ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(deps, d)),
  join(root, 'node_modules/protobufjs'), // google/protobuf/descriptor.proto, imported by the annotation protos
];

/**
 * The types weft writes. `pkg.*` means every message and enum declared directly in the package. Types that go
 * into an Any must be listed: nothing else references them.
 */
const ROOT_TYPES = [
  'weft.v1.ProxyBundle',
  'weft.v1.IstioAuthn',
  'envoy.config.listener.v3.Listener',
  'envoy.config.route.v3.RouteConfiguration',
  'envoy.config.cluster.v3.Cluster',
  'envoy.config.endpoint.v3.ClusterLoadAssignment',
  'envoy.config.core.v3.*',
  'envoy.type.matcher.v3.*',
  // listener filters
  'envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  // network filters
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  'envoy.extensions.filters.network.rbac.v3.RBAC',
  'envoy.extensions.filters.network.direct_response.v3.Config',
  'envoy.extensions.filters.network.sni_cluster.v3.SniCluster',
  'envoy.extensions.filters.network.ext_authz.v3.ExtAuthz',
  // HTTP filters and their per-route configs
  'envoy.extensions.filters.http.router.v3.Router',
  'envoy.extensions.filters.http.fault.v3.HTTPFault',
  'envoy.extensions.filters.http.cors.v3.Cors',
  'envoy.extensions.filters.http.cors.v3.CorsPolicy',
  'envoy.extensions.filters.http.rbac.v3.RBAC',
  'envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
  'envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
  'envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig',
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute',
  'envoy.extensions.filters.http.grpc_web.v3.GrpcWeb',
  // RBAC path templates (AuthorizationPolicy paths with {*} / {**})
  'envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig',
  // what the sidecar says to an external authorizer over gRPC (ext_authz grpc_service)
  'envoy.service.auth.v3.CheckRequest',
  'envoy.service.auth.v3.CheckResponse',
  // transport sockets and upstream protocol options
  'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  'envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport',
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  'envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions',
  // load balancing policies
  'envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin',
  'envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest',
  'envoy.extensions.load_balancing_policies.random.v3.Random',
  'envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash',
  'envoy.extensions.load_balancing_policies.maglev.v3.Maglev',
  'envoy.extensions.load_balancing_policies.wrr_locality.v3.WrrLocality',
  // retry plugins (Istio's default retry policy uses previous_hosts)
  'envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
  'envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig',
  // access logs
  'envoy.extensions.access_loggers.file.v3.FileAccessLog',
  'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
  'envoy.extensions.access_loggers.stream.v3.StderrAccessLog',
];

/** Field options that change the wire encoding; every other option is documentation or validation. */
const KEEP_FIELD_OPTIONS = new Set(['packed', 'proto3_optional']);

function findDir(pkg: string): string {
  for (const dir of includeDirs) {
    const p = join(dir, ...pkg.split('.'));
    if (existsSync(p)) return p;
  }
  throw new Error(`package ${pkg} not found in ${includeDirs.join(', ')}`);
}

function findImport(target: string): string {
  for (const dir of includeDirs) {
    const p = join(dir, target);
    if (existsSync(p)) return p;
  }
  throw new Error(`import "${target}" not found in ${includeDirs.join(', ')}`);
}

const pkgOf = (name: string) => name.slice(0, name.lastIndexOf('.'));

function load(): protobuf.Root {
  const files = new Set<string>();
  for (const name of ROOT_TYPES) {
    const pkg = name.endsWith('.*') ? name.slice(0, -2) : pkgOf(name);
    const dir = findDir(pkg);
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.proto')).sort()) files.add(join(dir, f));
  }
  const pbRoot = new protobuf.Root();
  pbRoot.resolvePath = (_origin, target) => (target.startsWith('/') ? target : findImport(target));
  pbRoot.loadSync([...files]);
  pbRoot.resolveAll();
  return pbRoot;
}

/** Every type reachable from the roots: field types, map values, and the enclosing types of nested ones. */
function reachable(pbRoot: protobuf.Root): Set<protobuf.ReflectionObject> {
  const keep = new Set<protobuf.ReflectionObject>();
  const visit = (t: protobuf.ReflectionObject) => {
    if (keep.has(t)) return;
    keep.add(t);
    if (t.parent instanceof protobuf.Type) visit(t.parent);
    if (t instanceof protobuf.Type) for (const f of t.fieldsArray) if (f.resolvedType) visit(f.resolvedType);
  };
  for (const name of ROOT_TYPES) {
    if (name.endsWith('.*')) {
      const ns = pbRoot.lookup(name.slice(0, -2));
      if (!(ns instanceof protobuf.Namespace)) throw new Error(`package ${name} not found`);
      for (const t of ns.nestedArray) if (t instanceof protobuf.Type || t instanceof protobuf.Enum) visit(t);
    } else {
      visit(pbRoot.lookupTypeOrEnum(name));
    }
  }
  // Always present, whatever the roots reference: Any (the typed_config of everything), Struct and Duration.
  for (const name of ['google.protobuf.Any', 'google.protobuf.Struct', 'google.protobuf.Duration']) visit(pbRoot.lookupType(name));
  return keep;
}

type Json = Record<string, unknown>;

function typeJson(t: protobuf.Type | protobuf.Enum, keep: Set<protobuf.ReflectionObject>): Json {
  if (t instanceof protobuf.Enum) {
    if (t.toJSON().edition) throw new Error(`${t.fullName}: only proto3 files are expected`);
    // Aliased values (allow_alias) need their option to load.
    return t.options?.allow_alias ? { options: { allow_alias: true }, values: t.values } : { values: t.values };
  }
  const out: Json = {};
  if (t.toJSON().edition) throw new Error(`${t.fullName}: only proto3 files are expected`);
  // Fields are named by their proto3 JSON name (`consecutive5xx`; protobufjs would say `consecutive_5xx`).
  // google.protobuf keeps protobufjs's names: its Any wrapper reads `type_url`.
  const nameOf = (f: protobuf.Field) => (t.fullName.startsWith('.google.protobuf.') ? f.name : f.jsonName);
  const oneofs = t.oneofsArray.filter((o) => o.fieldsArray.length > 0);
  if (oneofs.length) out.oneofs = Object.fromEntries(oneofs.map((o) => [o.name, { oneof: o.fieldsArray.map(nameOf) }]));
  const fields: Json = {};
  for (const f of t.fieldsArray) {
    const j: Json = {};
    if (f.repeated && !f.map) j.rule = 'repeated';
    if (f instanceof protobuf.MapField) j.keyType = f.keyType;
    j.type = f.type;
    j.id = f.id;
    const opts = Object.entries(f.options ?? {}).filter(([k]) => KEEP_FIELD_OPTIONS.has(k));
    if (opts.length) j.options = Object.fromEntries(opts);
    fields[nameOf(f)] = j;
  }
  out.fields = fields;
  const nested = nestedJson(t, keep);
  if (nested) out.nested = nested;
  return out;
}

function nestedJson(ns: protobuf.NamespaceBase, keep: Set<protobuf.ReflectionObject>): Json | undefined {
  const out: Json = {};
  for (const child of ns.nestedArray) {
    if (child instanceof protobuf.Type || child instanceof protobuf.Enum) {
      if (keep.has(child)) out[child.name] = typeJson(child, keep);
    } else if (child instanceof protobuf.Namespace) {
      const inner = nestedJson(child, keep);
      if (inner) out[child.name] = { nested: inner };
    }
  }
  return Object.keys(out).length ? out : undefined;
}

/** Sorted keys at every namespace level, so the output does not depend on the order files were loaded in. */
function sortNested(j: Json): Json {
  if (j.nested && typeof j.nested === 'object') {
    const n = j.nested as Record<string, Json>;
    j.nested = Object.fromEntries(Object.keys(n).sort().map((k) => [k, sortNested(n[k]!)]));
  }
  return j;
}

const pbRoot = load();
const keep = reachable(pbRoot);
const json = sortNested({ nested: nestedJson(pbRoot, keep) });
// Loading it back must resolve every field to the type it had in the full set of protos.
const check = protobuf.Root.fromJSON(json as protobuf.INamespace).resolveAll();
for (const t of keep) {
  if (!(t instanceof protobuf.Type)) continue;
  const copy = check.lookupType(t.fullName);
  for (const f of t.fieldsArray) {
    const g = copy.fieldsArray.find((x) => x.id === f.id);
    if (g?.id !== f.id || g.resolvedType?.fullName !== f.resolvedType?.fullName) throw new Error(`${t.fullName}.${f.name} differs after pruning`);
  }
}
const text = `${JSON.stringify(json)}\n`;
writeFileSync(resolve(values.out!), text);
const types = [...keep].filter((t) => t instanceof protobuf.Type).length;
console.log(`envoy-descriptor: ${types} message types, ${keep.size - types} enums, ${(text.length / 1024).toFixed(0)} KiB → ${values.out}`);
