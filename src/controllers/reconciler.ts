// One reconciler for every mesh kind, driven by a table rather than a copy per kind.
// In: a queue key `Kind/namespace/name`. Reads the object from the informer cache, validates it, resolves its
// references, computes its status and hands it to the status writer (which writes only on change).
// Also the dependency table: which kinds must be looked at again when some other object changes.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Finding, ValidationResult } from '../validate/result.ts';
import { buildStatus, type Condition, type MeshStatus } from './conditions.ts';
import type { Informer } from './informer.ts';
import type { Logger } from './log.ts';
import { resolveRefs, type MeshView } from './refs.ts';
import { MESH_TYPES, type ResourceType } from './resources.ts';
import type { StatusObject, StatusWriter, WriteResult } from './status-writer.ts';
import { unsupportedFields } from './unsupported-fields.ts';

export type Validate = (obj: { apiVersion?: string; kind?: string; [k: string]: unknown }) => ValidationResult;

/** The kinds that get a status, by kind name. */
export const RECONCILED: ReadonlyMap<string, ResourceType> = new Map(MESH_TYPES.map((t) => [t.kind, t]));

const SELECTING = ['DestinationRule', 'ServiceEntry', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication'];

/**
 * When an object of kind `source` changes, the `dependents` kinds are reconciled again: everywhere (`all`), or
 * in the source's namespace and the root namespace (`namespace`, for workload selectors, which only look there).
 * Coarse on purpose: reconciling is level-based and writes nothing when nothing changed.
 */
export const DEPENDENCIES: ReadonlyArray<{ source: string; dependents: readonly string[]; scope: 'all' | 'namespace' }> = [
  { source: 'Gateway', dependents: ['VirtualService'], scope: 'all' },
  { source: 'VirtualService', dependents: ['VirtualService'], scope: 'all' }, // delegates
  { source: 'DestinationRule', dependents: ['VirtualService'], scope: 'all' }, // subsets
  { source: 'ServiceEntry', dependents: ['VirtualService', 'DestinationRule', 'AuthorizationPolicy'], scope: 'all' }, // hosts (CUSTOM authorizers too)
  { source: 'Service', dependents: ['VirtualService', 'DestinationRule', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication'], scope: 'all' },
  { source: 'Pod', dependents: ['Gateway'], scope: 'all' }, // gateway selectors look in every namespace
  { source: 'Pod', dependents: SELECTING, scope: 'namespace' },
  { source: 'WorkloadEntry', dependents: ['Gateway'], scope: 'all' },
  { source: 'WorkloadEntry', dependents: SELECTING, scope: 'namespace' },
];

export function queueKey(kind: string, obj: KubernetesObject): string {
  return `${kind}/${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

export function parseKey(key: string): { kind: string; namespace: string; name: string } | undefined {
  const [kind, namespace, name, ...rest] = key.split('/');
  if (!kind || namespace === undefined || !name || rest.length > 0) return undefined;
  return { kind, namespace, name };
}

export interface ReconcileDeps {
  caches: ReadonlyMap<string, Pick<Informer<StatusObject>, 'get'>>;
  view: MeshView;
  writer: StatusWriter;
  validate: Validate;
  /** The Programmed condition for `Kind/namespace/name`, when the distribution has one. */
  programmed?: (key: string) => Condition | undefined;
  /** Mesh-wide findings for `Kind/namespace/name` (IST0145 on Gateways), when the distribution has an answer. */
  analysis?: (key: string) => Finding[] | undefined;
  now?: () => Date;
  log: Logger;
}

export type Outcome = WriteResult | 'missing';

export async function reconcile(key: string, deps: ReconcileDeps): Promise<Outcome> {
  const k = parseKey(key);
  const type = k && RECONCILED.get(k.kind);
  const cache = k && deps.caches.get(k.kind);
  if (!k || !type || !cache) {
    deps.log.warn('ignoring malformed queue key', { key });
    return 'missing';
  }
  const obj = cache.get(k.namespace, k.name);
  if (!obj) return 'missing';
  const status = computeStatus(obj, deps);
  const result = await deps.writer.write(type, obj, status);
  if (result === 'written') {
    deps.log.info('status written', {
      key,
      generation: obj.metadata?.generation,
      conditions: status.conditions?.map((c) => `${c.type}=${c.status}`).join(','),
    });
  }
  return result;
}

export function computeStatus(obj: StatusObject, deps: Pick<ReconcileDeps, 'view' | 'validate' | 'now' | 'log' | 'programmed' | 'analysis'>): MeshStatus {
  let validation: ValidationResult;
  try {
    validation = deps.validate(obj as unknown as Parameters<Validate>[0]);
  } catch (err) {
    deps.log.error('validator failed', { kind: obj.kind, name: obj.metadata?.name, namespace: obj.metadata?.namespace, error: err });
    validation = { errors: [{ field: 'spec', message: 'internal error while validating this resource', code: 'IST0001' }], warnings: [] };
  }
  const refs = resolveRefs(obj, deps.view);
  // Fields accepted but not carried out are warnings too (WEFT0003), unless the validator already said so.
  const said = new Set(validation.warnings.map((w) => w.field));
  const unsupported = unsupportedFields(obj).filter((f) => !said.has(f.field));
  return buildStatus({
    generation: obj.metadata?.generation,
    previous: obj.status,
    validation: unsupported.length > 0 ? { errors: validation.errors, warnings: [...validation.warnings, ...unsupported] } : validation,
    refs,
    now: (deps.now ?? (() => new Date()))(),
    programmed: deps.programmed?.(queueKey(obj.kind ?? '', obj)),
    analysis: deps.analysis?.(queueKey(obj.kind ?? '', obj)),
  });
}
