// What every validator returns: errors (the resource is refused) and warnings (accepted, but the user
// should know). Each finding names the field by its path, e.g. `spec.http[0].route[1].weight`.

export interface Finding {
  /** JSON-ish path of the offending field, rooted at the resource: `spec.hosts[2]`. */
  field: string;
  message: string;
  /** Istio analyzer code when one fits, e.g. `IST0101`. */
  code?: string;
}

export interface ValidationResult {
  errors: Finding[];
  warnings: Finding[];
}

/** Collects findings while a validator walks a resource; `at` builds child paths. */
export class Findings implements ValidationResult {
  readonly errors: Finding[] = [];
  readonly warnings: Finding[] = [];

  error(field: string, message: string, code?: string): void {
    this.errors.push(code ? { field, message, code } : { field, message });
  }

  warn(field: string, message: string, code?: string): void {
    this.warnings.push(code ? { field, message, code } : { field, message });
  }

  result(): ValidationResult {
    return { errors: [...this.errors], warnings: [...this.warnings] };
  }
}

/** `at('spec.http', 0, 'route')` → `spec.http[0].route` */
export function at(...parts: Array<string | number>): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (p !== '') out += out === '' ? p : `.${p}`;
  }
  return out;
}

/** One line per finding, as the CLI and the webhook print them. */
export function formatFinding(f: Finding): string {
  return `${f.field}: ${f.message}${f.code ? ` (${f.code})` : ''}`;
}
