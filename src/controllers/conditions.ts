// Status of a mesh resource, computed from values only (no I/O).
// In: the resource's generation and current status, the validator's findings and the reference report.
// Out: `{observedGeneration, conditions: [Accepted, ResolvedRefs, Programmed], validationMessages}` as stored in
// `.status`, and `statusEqual` to decide whether a write is needed at all. Programmed comes from the distribution
// (src/controllers/distribution/programmed.ts) with the generation it translated; while the distribution has no
// answer yet (startup, new leader) the previous Programmed condition is kept as it was, and while it has only an
// answer for an older generation, Programmed is False (Pending) for the current one. Findings only the whole mesh
// shows (a Gateway's IST0145 ConflictingGateways, WEFT0001 for a server weft does not serve) come from the
// distribution too: ERROR messages that leave the conditions alone (each Gateway is valid and programmed; the
// older one's server wins the host), kept likewise while there is no answer.
import type { Finding, ValidationResult } from '../validate/result.ts';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason?: string;
  message?: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

export type MessageLevel = 'ERROR' | 'WARNING' | 'INFO';

export interface ValidationMessage {
  type: { code: string; name: string };
  level: MessageLevel;
  message: string;
  field?: string;
}

export interface MeshStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  validationMessages?: ValidationMessage[];
  [other: string]: unknown;
}

/** References that did not resolve (errors) and selectors that select nothing (warnings). */
export interface RefReport {
  errors: Finding[];
  warnings: Finding[];
}

/** Analyzer codes users know from Istio, by code. */
export const MESSAGE_NAMES: Readonly<Record<string, string>> = {
  IST0001: 'InternalError',
  IST0002: 'Deprecated',
  IST0101: 'ReferencedResourceNotFound',
  IST0106: 'SchemaValidationError',
  IST0109: 'ConflictingMeshGatewayVirtualServiceHosts',
  IST0113: 'MTLSPolicyConflict',
  IST0122: 'InvalidRegexp',
  IST0127: 'NoMatchingWorkloadsFound',
  IST0130: 'VirtualServiceUnreachableRule',
  IST0131: 'VirtualServiceIneffectiveMatch',
  IST0132: 'VirtualServiceHostNotFoundInGateway',
  IST0134: 'ServiceEntryAddressesRequired',
  IST0145: 'ConflictingGateways',
  // weft's own, where no Istio code fits.
  WEFT0001: 'GatewayServerNotServed',
  WEFT0002: 'JwksFetchFailed',
  WEFT0003: 'NotSupported',
};

export const CODE_REFERENCE_NOT_FOUND = 'IST0101';
export const CODE_SCHEMA = 'IST0106';
export const CODE_NO_WORKLOADS = 'IST0127';
export const CODE_JWKS_FETCH_FAILED = 'WEFT0002';
/** A field or value weft accepts but does not carry out. */
export const CODE_NOT_SUPPORTED = 'WEFT0003';

/** ResolvedRefs reasons by the code of the first unresolved reference (default ReferencedResourceNotFound). */
const REF_REASONS: Readonly<Record<string, string>> = { [CODE_JWKS_FETCH_FAILED]: 'JwksFetchFailed' };

/** How many findings a condition message spells out before summarising the rest. */
const MAX_IN_MESSAGE = 3;

export interface StatusInput {
  generation: number | undefined;
  previous: MeshStatus | undefined;
  validation: ValidationResult;
  refs: RefReport;
  now: Date;
  /** The Programmed condition as the distribution reports it; undefined keeps the previous one. */
  programmed?: Condition;
  /** Mesh-wide findings (IST0145) as the distribution reports them; undefined keeps the previous ones. */
  analysis?: readonly Finding[];
}

/** Codes of the mesh-wide findings (`StatusInput.analysis`). */
export const ANALYSIS_CODES: ReadonlySet<string> = new Set(['IST0145', 'WEFT0001', 'IST0127', 'WEFT0003']);
/** The mesh-wide IST0127: the policy selects no workload with a sidecar (the reference check has its own wording). */
export const NO_SIDECAR_MESSAGE = 'No matching workloads with a sidecar for this resource: it is enforced nowhere';

/** Whether a message came from the mesh-wide analysis (kept while the distribution has no answer); IST0127 and
 * WEFT0003 are also found per object, and those are computed afresh instead. */
function fromAnalysis(m: ValidationMessage): boolean {
  const code = m?.type?.code ?? '';
  if (code === CODE_NO_WORKLOADS) return m.message === NO_SIDECAR_MESSAGE;
  if (code === CODE_NOT_SUPPORTED) return m.field === 'spec.provider.name';
  return ANALYSIS_CODES.has(code);
}
/** Mesh-wide findings that are warnings (the rest are errors). */
const ANALYSIS_WARNINGS: ReadonlySet<string> = new Set(['IST0127', 'WEFT0003']);

export function buildStatus(input: StatusInput): MeshStatus {
  const { generation, previous, validation, refs, now } = input;
  const accepted: Condition =
    validation.errors.length === 0
      ? { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Configuration is valid' }
      : { type: 'Accepted', status: 'False', reason: 'Invalid', message: summarise(validation.errors) };
  const resolved: Condition =
    refs.errors.length === 0
      ? { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'All references resolved' }
      : { type: 'ResolvedRefs', status: 'False', reason: REF_REASONS[refs.errors[0]!.code ?? ''] ?? 'ReferencedResourceNotFound', message: summarise(refs.errors) };
  const conditions = [accepted, resolved].map((c) => withTimes(c, generation, previous, now));
  const programmed = input.programmed ?? previous?.conditions?.find((c) => c?.type === 'Programmed');
  const stale = programmed?.observedGeneration !== undefined && generation !== undefined && programmed.observedGeneration < generation;
  if (programmed && stale) {
    // The distribution has not carried this generation yet: saying True for an older one would let
    // `kubectl wait --for=condition=Programmed` return before the change is served.
    const pending: Condition = {
      type: 'Programmed', status: 'False', reason: 'Pending',
      message: `generation ${generation} is being distributed (generation ${programmed.observedGeneration}: ${programmed.message ?? programmed.reason})`,
    };
    conditions.push(withTimes(pending, generation, previous, now));
  } else if (input.programmed) {
    conditions.push(withTimes(input.programmed, input.programmed.observedGeneration ?? generation, previous, now));
  } else if (programmed) {
    conditions.push(programmed);
  }
  // A selector that selects no workload at all (refs) says more than one that selects none with a sidecar.
  const noWorkloads = new Set(refs.warnings.filter((f) => f.code === CODE_NO_WORKLOADS).map((f) => f.field));
  const analysis = input.analysis?.filter((f) => !(f.code === CODE_NO_WORKLOADS && noWorkloads.has(f.field)));
  const messages = [
    ...validation.errors.map((f) => toMessage(f, 'ERROR', CODE_SCHEMA)),
    ...refs.errors.map((f) => toMessage(f, 'ERROR', CODE_REFERENCE_NOT_FOUND)),
    ...validation.warnings.map((f) => toMessage(f, 'WARNING', CODE_SCHEMA)),
    ...refs.warnings.map((f) => toMessage(f, 'WARNING', CODE_NO_WORKLOADS)),
    ...(analysis
      ? analysis.map((f) => toMessage(f, ANALYSIS_WARNINGS.has(f.code ?? '') ? 'WARNING' : 'ERROR', f.code ?? 'IST0145'))
      : (previous?.validationMessages ?? []).filter(fromAnalysis)),
  ].filter((m, i, all) => all.findIndex((x) => JSON.stringify(x) === JSON.stringify(m)) === i);
  const status: MeshStatus = {};
  if (generation !== undefined) status.observedGeneration = generation;
  status.conditions = conditions;
  if (messages.length > 0) status.validationMessages = messages;
  return status;
}

function describe(f: Finding): string {
  return f.field ? `${f.field}: ${f.message}` : f.message;
}

function summarise(findings: readonly Finding[]): string {
  const shown = findings.slice(0, MAX_IN_MESSAGE).map(describe).join('; ');
  const rest = findings.length - MAX_IN_MESSAGE;
  return rest > 0 ? `${shown} (and ${rest} more)` : shown;
}

function toMessage(f: Finding, level: MessageLevel, defaultCode: string): ValidationMessage {
  const code = f.code ?? defaultCode;
  const m: ValidationMessage = { type: { code, name: MESSAGE_NAMES[code] ?? code }, level, message: f.message };
  if (f.field) m.field = f.field;
  return m;
}

/** Kubernetes `metav1.Time` has second precision. */
export function timestamp(d: Date): string {
  return new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function withTimes(c: Condition, generation: number | undefined, previous: MeshStatus | undefined, now: Date): Condition {
  const prev = previous?.conditions?.find((p) => p?.type === c.type);
  // The transition time only moves when the status flips; a new reason or message is not a transition.
  const out: Condition = { ...c, lastTransitionTime: prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : timestamp(now) };
  if (generation !== undefined) out.observedGeneration = generation;
  return out;
}

/**
 * Whether two statuses say the same thing: observedGeneration, each condition's type/status/reason/message/
 * observedGeneration (in any order), and the validation messages (in order). lastTransitionTime is ignored,
 * since `buildStatus` keeps it whenever the status did not flip.
 */
export function statusEqual(a: MeshStatus | undefined, b: MeshStatus | undefined): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(s: MeshStatus | undefined): unknown {
  const conditions = (s?.conditions ?? [])
    .map((c) => [c.type, c.status, c.reason ?? '', c.message ?? '', c.observedGeneration ?? null])
    .sort((x, y) => String(x[0]).localeCompare(String(y[0])));
  const messages = (s?.validationMessages ?? []).map((m) => [
    m.type?.code ?? '',
    m.type?.name ?? '',
    m.level ?? '',
    m.message ?? '',
    m.field ?? '',
  ]);
  return [s?.observedGeneration ?? null, conditions, messages];
}
