// Structured logging for the control plane: one JSON object per line on stderr.
// In: a component name and key/value fields. Out: `{"ts","level","component","msg",...fields}` lines.
// Callers pass identifiers (kinds, keys, reasons), never object bodies, so secrets cannot leak through logs.

export type Level = 'debug' | 'info' | 'warn' | 'error';

const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

export interface LoggerOptions {
  /** Minimum level written; defaults to $WEFT_LOG_LEVEL or `info`. */
  level?: Level;
  /** Where lines go; defaults to process.stderr. */
  sink?: (line: string) => void;
  now?: () => Date;
}

function parseLevel(v: string | undefined): Level | undefined {
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : undefined;
}

/** Errors become `{message, code}`; JSON.stringify would otherwise print `{}`. */
function plain(value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown; statusCode?: unknown }).code ?? (value as { statusCode?: unknown }).statusCode;
    return code === undefined ? { message: value.message } : { message: value.message, code };
  }
  return value;
}

export function createLogger(component: string, opts: LoggerOptions = {}): Logger {
  const min = order[opts.level ?? parseLevel(process.env.WEFT_LOG_LEVEL) ?? 'info'];
  const sink = opts.sink ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = opts.now ?? (() => new Date());
  const write = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (order[level] < min) return;
    const rec: Record<string, unknown> = { ts: now().toISOString(), level, component, msg };
    if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) rec[k] = plain(v);
    let line: string;
    try {
      line = JSON.stringify(rec);
    } catch {
      line = JSON.stringify({ ts: rec.ts, level, component, msg });
    }
    sink(line);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (c) => createLogger(`${component}.${c}`, opts),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
