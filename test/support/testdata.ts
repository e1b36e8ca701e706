// crds/testdata: every `<kind>-valid.yaml` / `<kind>-invalid.yaml` document, with the rejection each invalid one
// expects (annotation test.weft.dev/expected-error) and whether the structural schema alone catches it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const EXPECTED_ERROR = 'test.weft.dev/expected-error';
export const CAUGHT_BY = 'test.weft.dev/caught-by';

export interface Case {
  file: string;
  index: number;
  valid: boolean;
  doc: { apiVersion: string; kind: string; metadata: { name: string; annotations?: Record<string, string> }; [k: string]: unknown };
  expectedError?: string;
  caughtBy?: string;
}

const dir = resolve(import.meta.dirname, '../../crds/testdata');

export function testdataCases(): Case[] {
  const out: Case[] = [];
  for (const file of readdirSync(dir).filter((f) => /-(valid|invalid)\.yaml$/.test(f)).sort()) {
    const valid = file.endsWith('-valid.yaml');
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).forEach((d, index) => {
      const doc = d.toJS() as Case['doc'] | null;
      if (!doc) return;
      const a = doc.metadata?.annotations ?? {};
      out.push({ file, index, valid, doc, expectedError: a[EXPECTED_ERROR], caughtBy: a[CAUGHT_BY] });
    });
  }
  return out;
}
