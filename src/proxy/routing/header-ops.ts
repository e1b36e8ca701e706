// Request/response header mutations (HeaderValueOption lists and *_headers_to_remove) as Envoy's HeaderParser
// applies them: per level, removals first, then overwrites, then appends; levels in order weighted cluster →
// route → virtual host → route configuration (the later level wins), reversed by most_specific_header_mutations_wins.
import { arr, bool, has, obj, str, strs } from './envoy-values.ts';
import type { HeaderOp } from './types.ts';

export interface HeaderMutations {
  remove: string[];
  add: HeaderOp[];
}

export function headerMutations(level: Record<string, unknown>, direction: 'request' | 'response'): HeaderMutations {
  const remove = strs(level[`${direction}HeadersToRemove`]).map((h) => h.toLowerCase());
  const add: HeaderOp[] = [];
  for (const option of arr(level[`${direction}HeadersToAdd`])) {
    const header = obj(option.header);
    const name = str(header.key).toLowerCase();
    const value = str(header.value);
    if (value === '' && !bool(option.keepEmptyValue, false)) continue;
    let op: HeaderOp['op'] = 'append';
    if (has(option, 'append')) op = bool(option.append, true) ? 'append' : 'set';
    else if (option.appendAction === 'OVERWRITE_IF_EXISTS_OR_ADD') op = 'set';
    else if (option.appendAction === 'ADD_IF_ABSENT') op = 'add-if-absent';
    else if (option.appendAction === 'OVERWRITE_IF_EXISTS') op = 'overwrite-if-exists';
    add.push({ op, name, value });
  }
  return { remove, add };
}

/** The operations of several levels flattened in the order they take effect. */
export function flattenMutations(levels: readonly HeaderMutations[]): HeaderOp[] {
  return levels.flatMap((l) => [...l.remove.map((name): HeaderOp => ({ op: 'remove', name })), ...l.add]);
}

/** Applies one level to a header map (lowercase names → values). */
export function applyMutations(headers: Map<string, string[]>, m: HeaderMutations): void {
  for (const name of m.remove) headers.delete(name);
  const overwrite: Array<[string, string]> = [];
  const append: Array<[string, string]> = [];
  for (const op of m.add) {
    const present = (headers.get(op.name)?.length ?? 0) > 0;
    const value = op.value ?? '';
    if (op.op === 'append') append.push([op.name, value]);
    else if (op.op === 'add-if-absent') { if (!present) append.push([op.name, value]); }
    else if (op.op === 'overwrite-if-exists') { if (present) overwrite.push([op.name, value]); }
    else if (op.op === 'set') overwrite.push([op.name, value]);
  }
  for (const [name, value] of overwrite) headers.set(name, [value]);
  for (const [name, value] of append) headers.set(name, [...(headers.get(name) ?? []), value]);
}
