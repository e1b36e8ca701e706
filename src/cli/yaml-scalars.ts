// Plain scalars as kubectl reads them. kubectl decodes YAML with sigs.k8s.io/yaml, i.e. go-yaml v2 (YAML 1.1),
// which differs from the `yaml` package's YAML 1.1 and 1.2 in two places handled here:
// - resolving a plain scalar to a type: go-yaml v2's `resolve` (booleans y/yes/on…, Go's base-0 integers with
//   underscores, 0x/0o/0b, floats like 1e3, timestamps kept as the strings they are, 1:20 a string);
// - where a plain scalar ends inside [] and {}: go-yaml ends it only at ": " (a blank after the colon) or at one
//   of , [ ] { }, so `[1.2.3.4, 001:db8::]` holds the string "001:db8::" where YAML 1.2 reads a mapping;
// - indentation inside [] and {}: go-yaml ignores it, so a closing `]` back at the key's column is fine.
// In: source text or a scalar's text. Out: the source with such scalars quoted, or tags for the `yaml` package.
import { CST, Lexer } from 'yaml';
import type { ScalarTag } from 'yaml';

const BOOLEANS: Record<string, boolean> = {};
for (const s of ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']) BOOLEANS[s] = true;
for (const s of ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']) BOOLEANS[s] = false;
const SPECIAL_FLOATS: Record<string, number> = {
  '.nan': NaN, '.NaN': NaN, '.NAN': NaN,
  '.inf': Infinity, '.Inf': Infinity, '.INF': Infinity,
  '+.inf': Infinity, '+.Inf': Infinity, '+.INF': Infinity,
  '-.inf': -Infinity, '-.Inf': -Infinity, '-.INF': -Infinity,
};

// strconv.ParseInt(s, 0, 64): decimal, 0x hex, 0o or leading-0 octal, 0b binary, with an optional sign.
const GO_INT = /^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|0|[1-9][0-9]*)$/;
const YAML_STYLE_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const GO_FLOAT = /^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/;

function parseGoInt(s: string): number {
  const neg = s.startsWith('-');
  const body = s.replace(/^[-+]/, '');
  let n: number;
  if (/^0[xX]/.test(body)) n = parseInt(body.slice(2), 16);
  else if (/^0[bB]/.test(body)) n = parseInt(body.slice(2), 2);
  else if (/^0[oO]/.test(body)) n = parseInt(body.slice(2), 8);
  else if (body.length > 1 && body.startsWith('0')) n = parseInt(body.slice(1), 8);
  else n = parseInt(body, 10);
  return neg ? -n : n;
}

type Plain = { kind: 'null'; value: null } | { kind: 'bool'; value: boolean } | { kind: 'int' | 'float'; value: number } | { kind: 'str' };

/** go-yaml v2's resolution of an untagged plain scalar. */
export function resolvePlain(s: string): Plain {
  if (s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL') return { kind: 'null', value: null };
  if (s in BOOLEANS) return { kind: 'bool', value: BOOLEANS[s]! };
  if (s in SPECIAL_FLOATS) return { kind: 'float', value: SPECIAL_FLOATS[s]! };
  const hint = s[0]!;
  // strconv.ParseFloat fails on overflow (1e400), and the scalar stays a string.
  if (hint === '.') return GO_FLOAT.test(s) && Number.isFinite(Number(s)) ? { kind: 'float', value: Number(s) } : { kind: 'str' };
  if (!/[-+0-9]/.test(hint)) return { kind: 'str' };
  const plain = s.replaceAll('_', '');
  if (GO_INT.test(plain)) return { kind: 'int', value: parseGoInt(plain) };
  if (YAML_STYLE_FLOAT.test(plain) && Number.isFinite(Number(plain))) return { kind: 'float', value: Number(plain) };
  return { kind: 'str' };
}

const kindIs = (kind: Plain['kind']) => ({ test: (s: string) => resolvePlain(s).kind === kind }) as unknown as RegExp;
const valueOf = (s: string): unknown => {
  const r = resolvePlain(s);
  return 'value' in r ? r.value : s;
};

/** The scalar tags of go-yaml v2, replacing the `yaml` package's own (map, seq, str and merge stay). */
export function goYamlScalarTags(base: ScalarTag[]): ScalarTag[] {
  const find = (tag: string) => base.find((t) => t.tag === tag)!;
  const tag = (name: string, kind: Plain['kind']): ScalarTag => ({ ...find(`tag:yaml.org,2002:${name}`), format: undefined, test: kindIs(kind), resolve: valueOf }) as ScalarTag;
  // An explicit !!int or !!float: go-yaml takes any number its resolution finds (`!!float 1` is 1).
  const explicit = (name: string): ScalarTag => ({
    ...find(`tag:yaml.org,2002:${name}`), format: undefined, default: false, test: undefined,
    resolve: (v: string, onError: (message: string) => void) => {
      const r = resolvePlain(v);
      if (r.kind === 'int' || r.kind === 'float') return r.value;
      onError(`cannot decode !!${name} \`${v}\``);
      return v;
    },
  }) as ScalarTag;
  return [tag('null', 'null'), tag('bool', 'bool'), tag('int', 'int'), tag('float', 'float'), explicit('int'), explicit('float')];
}

const FLOW_INDICATORS = ',[]{}';
const blank = (c: string | undefined): boolean => c === undefined || c === ' ' || c === '\t' || c === '\n' || c === '\r';

/** Length of the plain scalar go-yaml reads at `pos` inside a flow collection (one line at most). */
function goFlowScalarLength(src: string, pos: number): number {
  let i = pos;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\n' || c === '\r' || FLOW_INDICATORS.includes(c)) break;
    if (c === ':' && blank(src[i + 1])) break;
    if (c === ' ' || c === '\t') {
      let j = i;
      while (src[j] === ' ' || src[j] === '\t') j++;
      const n = src[j];
      if (n === undefined || n === '\n' || n === '\r' || n === '#' || FLOW_INDICATORS.includes(n) || (n === ':' && blank(src[j + 1]))) break;
      i = j;
      continue;
    }
    i++;
  }
  return i - pos;
}

/** The plain scalars inside [] and {} of a YAML stream, with their offsets, as the `yaml` package's lexer sees them. */
function flowPlainScalars(src: string): Array<{ pos: number; text: string }> {
  const out: Array<{ pos: number; text: string }> = [];
  let pos = 0;
  let depth = 0;
  let plainNext = false;
  for (const tok of new Lexer().lex(src)) {
    const type = CST.tokenType(tok);
    if (type === 'doc-mode' || type === 'flow-error-end') continue; // markers, not source text
    if (type === 'scalar') {
      plainNext = true;
      continue;
    }
    if (plainNext && depth > 0 && tok !== '') out.push({ pos, text: tok });
    plainNext = false;
    if (type === 'flow-seq-start' || type === 'flow-map-start') depth++;
    else if ((type === 'flow-seq-end' || type === 'flow-map-end') && depth > 0) depth--;
    pos += tok.length;
  }
  return out;
}

/**
 * The source with every plain scalar of a flow collection that go-yaml reads longer than YAML 1.2 does (a colon
 * before , ] } or at the end) written double-quoted, so that the `yaml` package reads the same string kubectl does.
 * Such a scalar holds a colon, so go-yaml resolves it to a string: quoting changes nothing else.
 */
export function quoteGoFlowScalars(src: string): string {
  const edits: Array<[number, number]> = [];
  for (const { pos, text: tok } of flowPlainScalars(src)) {
    if (pos < (edits.at(-1)?.[1] ?? 0)) continue;
    const text = src.slice(pos, pos + goFlowScalarLength(src, pos)).trimEnd();
    if (text.length > tok.length && text.startsWith(tok)) edits.push([pos, pos + text.length]);
  }
  let out = src;
  for (const [start, end] of edits.reverse()) out = out.slice(0, start) + JSON.stringify(out.slice(start, end)) + out.slice(end);
  return out;
}

/**
 * Offsets of what go-yaml refuses and YAML 1.2 reads: inside [] or {}, a colon starting a value is always an
 * indicator for go-yaml, so `[::1]` is "did not find expected node content" for kubectl, not the string "::1".
 */
export function goFlowScalarErrors(src: string): number[] {
  return flowPlainScalars(src).filter((s) => s.text.startsWith(':')).map((s) => s.pos);
}

/**
 * The source with the lines of a [] or {} that are not indented past the enclosing block (`hosts: [` … `]` with
 * the bracket back at column 0) indented further: go-yaml ignores indentation inside flow collections, where the
 * `yaml` package ends the collection there. Whitespace at the start of a line inside [] or {} means nothing (line
 * folding drops it), so only documents the `yaml` package would refuse change.
 */
export function indentFlowContinuations(src: string): string {
  let out = src;
  for (let round = 0; round < 10_000; round++) {
    const fix = firstFlowIndentError(out);
    if (!fix) return out;
    out = out.slice(0, fix.lineStart) + ' '.repeat(fix.spaces) + out.slice(fix.lineStart);
  }
  return out;
}

function firstFlowIndentError(src: string): { lineStart: number; spaces: number } | undefined {
  let pos = 0;
  const open: number[] = []; // columns of the open [ and {
  for (const tok of new Lexer().lex(src)) {
    const type = CST.tokenType(tok);
    if (type === 'flow-error-end' && open.length > 0) {
      const lineStart = src.lastIndexOf('\n', pos - 1) + 1;
      // A document marker ends an unclosed collection for go-yaml too: that error stays.
      if (!/^(---|\.\.\.)(\s|$)/.test(src.slice(lineStart, lineStart + 4))) return { lineStart, spaces: open[0]! + 1 };
    }
    if (type === 'doc-mode' || type === 'scalar' || type === 'flow-error-end') continue;
    if (type === 'flow-seq-start' || type === 'flow-map-start') open.push(pos - (src.lastIndexOf('\n', pos - 1) + 1));
    else if (type === 'flow-seq-end' || type === 'flow-map-end') open.pop();
    pos += tok.length;
  }
  return undefined;
}
