// The field paths of CRDs, per kind, for comparing weft's schemas with Istio's. In: a CRD YAML file or a directory
// of them (Istio's manifests/charts/base/files/crd-all.gen.yaml, or weft's crds/). Out: JSON `{ kind: [paths] }`
// on stdout, for the kinds weft serves, from each CRD's storage version: `spec.http[].match[].headers{}.exact`
// ([] a list's items, {} a map's values).
//   node hack/istio-crd-fields.ts FILE|DIR
// crds/testdata/istio-fields.json keeps such a list of Istio's fields; test/unit/crds-istio-fields.test.ts fails
// when one of them is missing from weft's CRDs.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { MESH_KINDS } from '../src/api/kinds.ts';

interface Schema {
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
}

interface Crd {
  kind?: string;
  spec?: { group: string; names: { kind: string }; versions: Array<{ storage?: boolean; schema?: { openAPIV3Schema?: Schema } }> };
}

function walk(s: Schema, path: string, out: string[]): void {
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    out.push(`${path}.${k}`);
    walk(v, `${path}.${k}`, out);
  }
  if (s.items) walk(s.items, `${path}[]`, out);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${path}{}`, out);
}

/** `{ kind: sorted spec field paths }` of the CRDs in `text` whose group and kind weft serves. */
export function crdFieldPaths(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const doc of parseAllDocuments(text, { merge: true })) {
    const crd = doc.toJS({ maxAliasCount: -1 }) as Crd | null;
    if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
    const { group, names } = crd.spec;
    if (!MESH_KINDS.some((k) => k.group === group && k.kind === names.kind)) continue;
    const version = crd.spec.versions.find((v) => v.storage) ?? crd.spec.versions[0];
    const spec = version?.schema?.openAPIV3Schema?.properties?.spec;
    const paths: string[] = [];
    if (spec) walk(spec, 'spec', paths);
    out[names.kind] = paths.sort();
  }
  return out;
}

export function crdFieldPathsOf(path: string): Record<string, string[]> {
  const files = statSync(path).isDirectory()
    ? readdirSync(path).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(path, f))
    : [path];
  return Object.assign({}, ...files.map((f) => crdFieldPaths(readFileSync(f, 'utf8')))) as Record<string, string[]>;
}

if (import.meta.main) {
  const target = process.argv[2];
  if (!target) {
    console.error('usage: node hack/istio-crd-fields.ts FILE|DIR');
    process.exit(2);
  }
  console.log(JSON.stringify(crdFieldPathsOf(target), null, 2));
}
