// `weftctl validate`: YAML files in, one line per problem out, then a summary; exit status 1 when anything is
// invalid. Each document gets what the API server would do to it: the structural schema of its CRD version
// (unknown fields refused, as kubectl's strict validation does), then weft's semantic validator (the webhook's).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MESH_KINDS } from '../api/kinds.ts';
import { checkMeshConfigMap } from '../model/mesh-config.ts';
import { validateResource, withNamespace } from '../validate/index.ts';
import type { Finding } from '../validate/result.ts';
import { formatFinding } from '../validate/result.ts';
import { checkSchema, normalize } from '../validate/schema.ts';
import { isIstioGroup, unsupportedIstioKind } from '../validate/istio-kinds.ts';
import { key, loadCrdSchemas } from './crds.ts';
import type { CrdSchemas } from './crds.ts';
import { parseYamlDocuments } from './yaml.ts';

export interface ValidateArgs {
  files: string[];
  /** Namespace assumed for documents without one, as kubectl's current namespace would be. */
  namespace: string;
  rootNamespace?: string;
  /** Skip documents of Istio's API groups whose kind weft does not serve (e.g. Telemetry) instead of reporting them. */
  skipUnknown: boolean;
  crdsDir?: string;
}

export interface Io {
  out: (line: string) => void;
  readStdin: () => string;
}

interface Totals {
  documents: number;
  invalid: number;
  errors: number;
  warnings: number;
  skipped: number;
}

export function runValidate(args: ValidateArgs, io: Io): number {
  const crds = loadCrdSchemas(args.crdsDir);
  const totals: Totals = { documents: 0, invalid: 0, errors: 0, warnings: 0, skipped: 0 };
  const meshGroups = new Set(MESH_KINDS.map((k) => k.group));
  for (const source of expand(args.files)) {
    let text: string;
    try {
      text = source === '-' ? io.readStdin() : readFileSync(source, 'utf8');
    } catch (e) {
      io.out(`${label(source)}: ${(e as Error).message}`);
      totals.invalid++;
      totals.errors++;
      continue;
    }
    for (const doc of parseYamlDocuments(text)) {
      const where = `${label(source)}:${doc.index}`;
      if (doc.error !== undefined) {
        report(io, totals, where, [{ field: '<yaml>', message: doc.error }], []);
        continue;
      }
      if (doc.value === null || doc.value === undefined) continue; // empty documents, as kubectl skips them
      const obj = doc.value as Record<string, unknown>;
      if (typeof obj !== 'object' || Array.isArray(obj)) {
        report(io, totals, where, [{ field: '<document>', message: 'not a Kubernetes object (expected a mapping)' }], []);
        continue;
      }
      const meshConfig = checkMeshConfigMap(obj);
      if (meshConfig) {
        // A ConfigMap holding a mesh config (key `mesh`, as weft-system/weft): the operator's checks.
        report(io, totals, `${where} ${describe(obj, args.namespace)} (mesh config)`, meshConfig.errors, meshConfig.warnings);
        continue;
      }
      const group = groupOf(obj);
      if (!meshGroups.has(group) && !isIstioGroup(group)) {
        // Deployments, Services…: the API server's business, not weft's. A mixed manifest directory validates.
        totals.skipped++;
        continue;
      }
      const kind = typeof obj.kind === 'string' ? obj.kind : '';
      const unsupported = kind ? unsupportedIstioKind(String(obj.apiVersion), kind) : undefined;
      if (unsupported !== undefined) {
        // Istio's Telemetry, EnvoyFilter, WasmPlugin…: never silently passed as if weft applied them.
        if (args.skipUnknown) totals.skipped++;
        else report(io, totals, `${where} ${describe(obj, args.namespace)}`, [{ field: 'kind', message: unsupported }], []);
        continue;
      }
      const { errors, warnings } = checkDocument(obj, crds, args);
      report(io, totals, `${where} ${describe(obj, args.namespace)}`, errors, warnings);
    }
  }
  const valid = totals.documents - totals.invalid;
  const skipped = totals.skipped ? `, ${totals.skipped} skipped` : '';
  io.out(`${totals.documents} document(s): ${valid} valid, ${totals.invalid} invalid (${totals.errors} error(s), ${totals.warnings} warning(s))${skipped}`);
  return totals.invalid > 0 ? 1 : 0;
}

function groupOf(obj: Record<string, unknown>): string {
  const apiVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
  return apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
}

function checkDocument(obj: Record<string, unknown>, crds: Map<string, CrdSchemas>, args: ValidateArgs) {
  const apiVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
  const kind = typeof obj.kind === 'string' ? obj.kind : '';
  const [group = '', version = ''] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const crd = crds.get(key(group, kind));
  const errors: Finding[] = [];
  let resource: Record<string, unknown> = obj;
  if (crd) {
    const schema = crd.versions.get(version);
    if (!schema) {
      const served = [...crd.versions.keys()].map((v) => `"${group}/${v}"`).join(', ');
      return { errors: [{ field: 'apiVersion', message: `Unsupported value: "${apiVersion}": supported values: ${served}` }], warnings: [] };
    }
    // With a status subresource the API server drops status on create and update: nothing there is checked.
    if (crd.statusSubresource) {
      resource = { ...obj };
      delete resource.status;
    }
    errors.push(...checkSchema(resource, schema).errors);
    resource = normalize(resource, schema);
  }
  resource = withNamespace(resource, args.namespace);
  let semantic;
  try {
    semantic = validateResource(resource, { rootNamespace: args.rootNamespace });
  } catch (e) {
    // Malformed input the schema already refused can trip a validator; only report the crash otherwise.
    if (errors.length === 0) errors.push({ field: '<validator>', message: `internal error: ${(e as Error).message}` });
    semantic = { errors: [], warnings: [] };
  }
  const seen = new Set(errors.map(formatFinding));
  for (const e of semantic.errors) if (!seen.has(formatFinding(e))) errors.push(e);
  return { errors, warnings: semantic.warnings };
}

function report(io: Io, totals: Totals, prefix: string, errors: readonly Finding[], warnings: readonly Finding[]): void {
  totals.documents++;
  if (errors.length > 0) totals.invalid++;
  totals.errors += errors.length;
  totals.warnings += warnings.length;
  for (const e of errors) io.out(`${prefix}: ${formatFinding(e)}`);
  for (const w of warnings) io.out(`warning: ${prefix}: ${formatFinding(w)}`);
}

function describe(obj: Record<string, unknown>, defaultNamespace: string): string {
  const meta = (obj.metadata ?? {}) as { name?: unknown; generateName?: unknown; namespace?: unknown };
  const name = typeof meta.name === 'string' ? meta.name : typeof meta.generateName === 'string' ? `${meta.generateName}*` : '<unnamed>';
  const ns = typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : defaultNamespace;
  return `${typeof obj.kind === 'string' && obj.kind ? obj.kind : '<no kind>'} ${ns}/${name}`;
}

/** Files as given; directories contribute their .yaml/.yml/.json files (not recursively, like kubectl -f). */
function expand(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push(p);
      continue;
    }
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      // reported when reading
    }
    if (!isDir) out.push(p);
    else out.push(...readdirSync(p).filter((f) => /\.(ya?ml|json)$/.test(f)).sort().map((f) => join(p, f)));
  }
  return out;
}

function label(source: string): string {
  return source === '-' ? '<stdin>' : source;
}
