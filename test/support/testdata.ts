// crds/testdata: every `<kind>-valid.yaml` / `<kind>-invalid.yaml` document, with the rejection each invalid one
// expects (annotation test.weft.dev/expected-error) and whether the structural schema alone catches it.
// Also the storage version's schema of each CRD in crds/, to check those documents against offline.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseYamlDocuments } from '../../src/cli/yaml.ts';
import type { JSONSchemaProps } from '../../src/validate/schema.ts';

export const EXPECTED_ERROR = 'test.weft.dev/expected-error';
export const CAUGHT_BY = 'test.weft.dev/caught-by';

export interface Case {
  file: string;
  index: number;
  valid: boolean;
  doc: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; [k: string]: unknown };
  expectedError?: string;
  caughtBy?: string;
}

const crds = resolve(import.meta.dirname, '../../crds');
const dir = join(crds, 'testdata');

export function testdataCases(): Case[] {
  const out: Case[] = [];
  for (const file of readdirSync(dir).filter((f) => /-(valid|invalid)\.yaml$/.test(f)).sort()) {
    const valid = file.endsWith('-valid.yaml');
    // Read as kubectl reads them, so that the API server gets what `kubectl apply` would send.
    parseYamlDocuments(readFileSync(join(dir, file), 'utf8')).forEach(({ value, error }, index) => {
      if (error) throw new Error(`${file}: document ${index}: ${error}`);
      const doc = value as Case['doc'] | null;
      if (!doc) return;
      const a = doc.metadata?.annotations ?? {};
      out.push({ file, index, valid, doc, expectedError: a[EXPECTED_ERROR], caughtBy: a[CAUGHT_BY] });
    });
  }
  return out;
}

interface Crd {
  kind?: string;
  spec?: { names: { kind: string }; versions: Array<{ storage?: boolean; schema?: { openAPIV3Schema?: JSONSchemaProps } }> };
}

/**
 * The openAPIV3Schema of each CRD's storage version, by kind (e.g. `VirtualService`), as plain wire-format JSON.
 * The CRDs share one schema among versions through YAML anchors, hence the unlimited alias count.
 */
export function storageSchemas(): Map<string, JSONSchemaProps> {
  const out = new Map<string, JSONSchemaProps>();
  for (const file of readdirSync(crds).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const d of parseAllDocuments(readFileSync(join(crds, file), 'utf8'), { merge: true })) {
      const crd = d.toJS({ maxAliasCount: -1 }) as Crd | null;
      if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
      const schema = crd.spec.versions.find((v) => v.storage)?.schema?.openAPIV3Schema;
      if (!schema) throw new Error(`${file}: no storage version with an openAPIV3Schema`);
      out.set(crd.spec.names.kind, schema);
    }
  }
  return out;
}
