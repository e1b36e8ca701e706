// Multi-document YAML as kubectl reads it. In: text. Out: one entry per document (value or parse error).
// kubectl decodes YAML 1.1 (yes/on are booleans, 0755 is octal) but leaves timestamps and sexagesimal numbers
// as the strings they look like; the same rules here keep offline results equal to `kubectl apply`.
import { parseAllDocuments } from 'yaml';

export interface YamlDocument {
  /** Position in the stream, from 0, counting empty documents too (so it matches what an editor shows). */
  index: number;
  value?: unknown;
  error?: string;
}

export function parseYamlDocuments(text: string): YamlDocument[] {
  const docs = parseAllDocuments(text, {
    version: '1.1',
    merge: true,
    customTags: (tags) => tags.filter((t) => !isTimeTag(t)).map(strictFloat),
  });
  const list = Array.isArray(docs) ? docs : [];
  return list.map((d, index) => {
    if (d.errors.length > 0) return { index, error: d.errors[0]!.message.split('\n')[0] };
    try {
      return { index, value: d.toJS({ maxAliasCount: 1000 }) };
    } catch (e) {
      return { index, error: (e as Error).message };
    }
  });
}

const TIME_TAGS = ['timestamp', 'intTime', 'floatTime'];

function isTimeTag(t: string | { tag: string; format?: string }): boolean {
  if (typeof t === 'string') return TIME_TAGS.includes(t);
  return t.tag === 'tag:yaml.org,2002:timestamp' || t.format === 'TIME';
}

/**
 * YAML 1.1's float pattern as the yaml package writes it also matches a lone "." (as in `exportTo: [.]`);
 * kubectl's decoder keeps that a string, so require a digit.
 */
function strictFloat<T>(t: T): T {
  const tag = t as { tag?: string; format?: string; test?: RegExp };
  if (typeof t === 'string' || tag.tag !== 'tag:yaml.org,2002:float' || tag.format || !tag.test?.test('.')) return t;
  return { ...tag, test: /^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)$/ } as T;
}
