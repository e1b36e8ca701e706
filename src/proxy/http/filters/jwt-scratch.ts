// The request's headers while jwt_authn verifies a requirement. In: the request's header map; out: a view that
// reads through to it and keeps its own edits (token removal, payload and claim headers, sanitized names) until
// `commit`, so a requirement that fails leaves the request as it was without copying every header per request.
// Committed, the request's map ends as a copy with the edits applied would: changed names keep their place, new
// names (and names removed, then added again) go last.
import type { HeaderView } from './jwt-extract.ts';

/** An edit: the new value array, or REMOVED. */
const REMOVED = null;

export class ScratchHeaders implements HeaderView {
  private readonly base: ReadonlyMap<string, string[]>;
  private edits: Map<string, string[] | typeof REMOVED> | undefined = undefined;
  /** Names removed and then set again: they move to the end, as on a Map. */
  private moved: Set<string> | undefined = undefined;

  constructor(base: ReadonlyMap<string, string[]>) {
    this.base = base;
  }

  get(name: string): string[] | undefined {
    const e = this.edits?.get(name);
    if (e === undefined) return this.base.get(name);
    return e === REMOVED ? undefined : e;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, value: string[]): this {
    const edits = (this.edits ??= new Map());
    if (edits.get(name) === REMOVED) {
      // Set again after a removal: last in order, as on a Map.
      edits.delete(name);
      if (this.base.has(name)) (this.moved ??= new Set()).add(name);
    }
    edits.set(name, value);
    return this;
  }

  delete(name: string): boolean {
    const had = this.has(name);
    if (had || this.base.has(name)) (this.edits ??= new Map()).set(name, REMOVED);
    return had;
  }

  /** Applies the edits to `target` (the map this view reads through to). */
  commit(target: Map<string, string[]>): void {
    const moved = this.moved;
    this.edits?.forEach((v, k) => {
      if (v === REMOVED) target.delete(k);
      else {
        if (moved?.has(k)) target.delete(k);
        target.set(k, v);
      }
    });
  }
}
