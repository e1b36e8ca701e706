// Stages that pass every request straight through unless its route carries their per-route config (fault,
// CORS) say so here, so that the chain builder can skip the whole chain for routes that need none of them.
// In: a stage and its predicate over the routing decision; out: the predicate, for chain.ts.
import type { RouteResult } from '../../routing/engine.ts';
import type { Stage } from './types.ts';

const gates = new WeakMap<Stage, (route: RouteResult) => boolean>();

/** Declares that `stage` only calls next() (does nothing else) unless `applies(route)`. */
export function gatedByRoute(stage: Stage, applies: (route: RouteResult) => boolean): Stage {
  gates.set(stage, applies);
  return stage;
}

export function routeGate(stage: Stage): ((route: RouteResult) => boolean) | undefined {
  return gates.get(stage);
}
