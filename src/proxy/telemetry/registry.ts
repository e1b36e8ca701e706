// A small Prometheus registry. In: counter increments, gauge sets and histogram observations keyed by a series
// key the caller builds (cheaply, often from cached parts) with the label values already rendered once per
// series. Out: the text exposition format (HELP/TYPE, escaped label values, cumulative `_bucket{le}` with +Inf,
// `_sum`, `_count`). A series is created on first use; nothing is ever removed (label sets are bounded by peers).

/** Renders `name="value"` pairs, escaping as the text format requires. */
export function renderLabels(names: readonly string[], values: readonly string[]): string {
  let out = '';
  for (let i = 0; i < names.length; i++) {
    if (i > 0) out += ',';
    out += `${names[i]}="${escapeLabel(values[i] ?? '')}"`;
  }
  return out;
}

export function escapeLabel(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

interface Family {
  readonly name: string;
  render(out: string[]): void;
}

const header = (out: string[], name: string, help: string, type: string): void => {
  out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
};

interface ScalarSeries {
  labels: string;
  value: number;
}

class Scalar implements Family {
  private readonly series = new Map<string, ScalarSeries>();
  readonly name: string;
  private readonly help: string;
  private readonly type: 'counter' | 'gauge';
  constructor(name: string, help: string, type: 'counter' | 'gauge') {
    this.name = name;
    this.help = help;
    this.type = type;
  }

  /** The series for `key`; `labels` (rendered pairs) is only called when the series is new. */
  private get(key: string, labels: () => string): ScalarSeries {
    let s = this.series.get(key);
    if (!s) {
      s = { labels: labels(), value: 0 };
      this.series.set(key, s);
    }
    return s;
  }

  add(key: string, labels: () => string, by = 1): void {
    this.get(key, labels).value += by;
  }

  set(key: string, labels: () => string, value: number): void {
    this.get(key, labels).value = value;
  }

  /** Drops a series (an info gauge whose label value changes). */
  delete(key: string): void {
    this.series.delete(key);
  }

  value(key: string): number | undefined {
    return this.series.get(key)?.value;
  }

  render(out: string[]): void {
    header(out, this.name, this.help, this.type);
    for (const s of this.series.values()) out.push(s.labels ? `${this.name}{${s.labels}} ${formatValue(s.value)}` : `${this.name} ${formatValue(s.value)}`);
  }
}

export class Counter extends Scalar {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
}

export class Gauge extends Scalar {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }
}

interface HistogramSeries {
  labels: string;
  /** Per-bucket (not cumulative) counts; the last slot is above the highest bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

export class Histogram implements Family {
  private readonly series = new Map<string, HistogramSeries>();
  private readonly les: string[];
  readonly name: string;
  private readonly help: string;
  readonly buckets: readonly number[];
  constructor(name: string, help: string, buckets: readonly number[]) {
    this.name = name;
    this.help = help;
    this.buckets = buckets;
    this.les = buckets.map(formatValue);
  }

  observe(key: string, labels: () => string, v: number): void {
    let s = this.series.get(key);
    if (!s) {
      s = { labels: labels(), counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    // Binary search for the first bound >= v (`le` is inclusive).
    let lo = 0;
    let hi = this.buckets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.buckets[mid]! >= v) hi = mid;
      else lo = mid + 1;
    }
    s.counts[lo]! += 1;
    s.sum += v;
    s.count += 1;
  }

  render(out: string[]): void {
    header(out, this.name, this.help, 'histogram');
    for (const s of this.series.values()) {
      const sep = s.labels ? `${s.labels},` : '';
      let cumulative = 0;
      for (let i = 0; i < this.les.length; i++) {
        cumulative += s.counts[i]!;
        out.push(`${this.name}_bucket{${sep}le="${this.les[i]}"} ${cumulative}`);
      }
      out.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      const braces = s.labels ? `{${s.labels}}` : '';
      out.push(`${this.name}_sum${braces} ${formatValue(s.sum)}`, `${this.name}_count${braces} ${s.count}`);
    }
  }
}

export class Registry {
  private readonly families: Family[] = [];

  register<F extends Family>(family: F): F {
    if (this.families.some((f) => f.name === family.name)) throw new Error(`metric ${family.name} is registered twice`);
    this.families.push(family);
    return family;
  }

  /** The text exposition format (version 0.0.4). */
  render(): string {
    const out: string[] = [];
    for (const f of this.families) f.render(out);
    return `${out.join('\n')}\n`;
  }
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
