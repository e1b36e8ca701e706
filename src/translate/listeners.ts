// Placeholder with the builder's signature; the implementation is being written.
import type { TranslateContext } from './index.ts';
import type { EnvoyObject } from './types.ts';

export function buildListeners(ctx: TranslateContext): EnvoyObject[] {
  void ctx;
  return [];
}
