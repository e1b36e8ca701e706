// Multi-document YAML as kubectl reads it. In: text. Out: one entry per document (value or parse error).
// kubectl decodes YAML with go-yaml v2 (YAML 1.1: yes/on are booleans, 0755 is octal, timestamps and 1:20 stay
// strings, and inside [] a colon only ends a plain scalar before a blank); yaml-scalars.ts has those rules, so
// offline results equal `kubectl apply`.
import { isScalar, parseAllDocuments, visit } from 'yaml';
import type { Document } from 'yaml';
import type { ScalarTag } from 'yaml';
import { goFlowScalarErrors, goYamlScalarTags, indentFlowContinuations, quoteGoFlowScalars } from './yaml-scalars.ts';

export interface YamlDocument {
  /** Position in the stream, from 0, counting empty documents too (so it matches what an editor shows). */
  index: number;
  value?: unknown;
  error?: string;
}

const REPLACED = ['null', 'bool', 'int', 'float', 'timestamp'].map((t) => `tag:yaml.org,2002:${t}`);

export function parseYamlDocuments(text: string): YamlDocument[] {
  const source = quoteGoFlowScalars(indentFlowContinuations(text));
  const refused = goFlowScalarErrors(source);
  const docs = parseAllDocuments(source, {
    version: '1.1',
    merge: true,
    uniqueKeys: false, // go-yaml keeps the last of repeated keys, and so does kubectl
    customTags: (tags) => {
      const scalars = tags.filter((t): t is ScalarTag => typeof t === 'object' && REPLACED.includes(t.tag));
      return [...tags.filter((t) => typeof t !== 'object' || !REPLACED.includes(t.tag)), ...goYamlScalarTags(scalars)];
    },
  });
  const list = Array.isArray(docs) ? docs : [];
  return list.map((d, index) => {
    if (d.errors.length > 0) return { index, error: d.errors[0]!.message.split('\n')[0] };
    const nullKey = firstNullKey(d);
    if (nullKey !== undefined) return { index, error: `unsupported map key of type nil (a null key) at line ${lineOf(source, nullKey)}` };
    const bad = refused.find((at) => at >= d.range[0] && at < d.range[2]);
    if (bad !== undefined) return { index, error: `did not find expected node content (a value in [] or {} cannot start with ":") at line ${lineOf(source, bad)}` };
    try {
      return { index, value: d.toJS({ maxAliasCount: 1000 }) };
    } catch (e) {
      return { index, error: (e as Error).message };
    }
  });
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text[i] === '\n') line++;
  return line;
}

/** The offset of the first null mapping key (`~: 1`, `{: 1}`), which kubectl's YAML to JSON conversion refuses. */
function firstNullKey(doc: Document.Parsed): number | undefined {
  let found: number | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === null && found === undefined) {
        found = pair.key.range?.[0] ?? 0;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}
