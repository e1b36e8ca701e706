// What the operator says about a mesh config it read (pure: values in, values out).
// In: the parse result (src/model/mesh-config.ts) and the fields the running operator cannot take on. Out: the
// text of the `weft.dev/mesh-config-status` annotation it keeps on the ConfigMap, and the Event to record when
// that text changes. An invalid config is not applied: the operator keeps the last valid one and says so.
import type { MeshConfigFinding, MeshConfigResult } from '../../model/mesh-config.ts';

/** Annotation on ConfigMap weft-system/weft: `Applied`, `Applied with warnings: …` or `Invalid: …`. */
export const MESH_CONFIG_STATUS_ANNOTATION = 'weft.dev/mesh-config-status';

export interface Verdict {
  valid: boolean;
  annotation: string;
  event: { type: 'Normal' | 'Warning'; reason: string; message: string };
}

const MAX_LISTED = 5;

function list(fs: readonly MeshConfigFinding[]): string {
  const shown = fs.slice(0, MAX_LISTED).map((f) => `${f.field}: ${f.message}`).join('; ');
  return fs.length > MAX_LISTED ? `${shown} (and ${fs.length - MAX_LISTED} more)` : shown;
}

export function meshConfigVerdict(r: Pick<MeshConfigResult, 'errors' | 'warnings'>, fixed: readonly string[] = [], hadValid = true): Verdict {
  if (r.errors.length > 0) {
    const kept = hadValid ? 'the operator keeps the last valid mesh config' : 'the operator uses its defaults';
    const annotation = `Invalid: ${list(r.errors)}; ${kept}`;
    return { valid: false, annotation, event: { type: 'Warning', reason: 'InvalidMeshConfig', message: annotation } };
  }
  const warnings = [...r.warnings, ...fixed.map((m) => ({ field: m.slice(0, m.indexOf(':')), message: m.slice(m.indexOf(':') + 2) }))];
  if (warnings.length > 0) {
    const annotation = `Applied with warnings: ${list(warnings)}`;
    return { valid: true, annotation, event: { type: 'Warning', reason: 'MeshConfigWarnings', message: annotation } };
  }
  return { valid: true, annotation: 'Applied', event: { type: 'Normal', reason: 'MeshConfigApplied', message: 'mesh config applied' } };
}
