// The CRDs weft ships, as schemas to check documents against offline. In: the crds/ directory of the package.
// Out: for each group + kind, the openAPIV3Schema of every served version and whether status is a subresource.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { JSONSchemaProps } from '../validate/schema.ts';
import { parseYamlDocuments } from './yaml.ts';

export interface CrdSchemas {
  group: string;
  kind: string;
  /** Served versions only, newest first as the CRD lists them. */
  versions: Map<string, JSONSchemaProps>;
  statusSubresource: boolean;
}

interface CrdVersion {
  name: string;
  served?: boolean;
  schema?: { openAPIV3Schema?: JSONSchemaProps };
  subresources?: { status?: object };
}

interface Crd {
  kind?: string;
  spec?: { group: string; names: { kind: string }; versions: CrdVersion[] };
}

/** The package root: two levels above this file both in src/cli (run from source) and dist/cli (built). */
export const PACKAGE_ROOT = resolve(import.meta.dirname, '../..');

export function loadCrdSchemas(dir = join(PACKAGE_ROOT, 'crds')): Map<string, CrdSchemas> {
  const out = new Map<string, CrdSchemas>();
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of parseYamlDocuments(readFileSync(join(dir, file), 'utf8'))) {
      if (doc.error) throw new Error(`${join(dir, file)}: document ${doc.index}: ${doc.error}`);
      const crd = doc.value as Crd | null;
      if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
      const versions = new Map<string, JSONSchemaProps>();
      let statusSubresource = false;
      for (const v of crd.spec.versions) {
        if (v.served === false || !v.schema?.openAPIV3Schema) continue;
        versions.set(v.name, v.schema.openAPIV3Schema);
        statusSubresource ||= v.subresources?.status !== undefined;
      }
      out.set(key(crd.spec.group, crd.spec.names.kind), { group: crd.spec.group, kind: crd.spec.names.kind, versions, statusSubresource });
    }
  }
  return out;
}

export function key(group: string, kind: string): string {
  return `${group}/${kind}`;
}
