// exportTo: which namespaces may see a service or a config object. In: the exportTo values as written
// (`*`, `.`, `~`, namespace names) and the owner's namespace. Out: an ExportTo value and a visibility test.
import type { ExportTo } from './types.ts';

export const EXPORT_ALL: ExportTo = { all: true };

/** Istio's values: `*` everyone, `.` the object's own namespace, `~` nobody, else namespace names. Unset → all. */
export function parseExportTo(values: readonly string[] | undefined, ownNamespace: string): ExportTo {
  const vals = (values ?? []).map((v) => v.trim()).filter((v) => v !== '');
  if (vals.length === 0 || vals.includes('*')) return EXPORT_ALL;
  const namespaces = new Set<string>();
  for (const v of vals) {
    if (v === '~') continue;
    namespaces.add(v === '.' ? ownNamespace : v);
  }
  return { all: false, namespaces };
}

/** The Service annotation `networking.istio.io/exportTo`: comma-separated values. */
export const SERVICE_EXPORT_ANNOTATION = 'networking.istio.io/exportTo';

export function parseExportAnnotation(value: string | undefined, ownNamespace: string): ExportTo {
  return parseExportTo(value?.split(','), ownNamespace);
}

export function visibleIn(exportTo: ExportTo, namespace: string): boolean {
  return exportTo.all || exportTo.namespaces.has(namespace);
}
