// What /config_dump shows of a LoadedConfig. In: the live config. Out: a JSON-ready copy without secrets: inline
// data sources (inlineBytes/inlineString) inside TLS contexts and transport sockets, any private key or password
// field, and any string holding a PEM private key become "[redacted]". File names stay (they are not secrets).
import type { LoadedConfig } from '../runtime.ts';

const REDACTED = '[redacted]';

const SECRET_KEYS = new Set(['privateKey', 'password', 'privateKeyProvider', 'sessionTicketKeys', 'hmacSecret']);
const INLINE_KEYS = new Set(['inlineBytes', 'inlineString']);
/** Subtrees whose inline data may be key material. */
const SENSITIVE_SUBTREE = /tls|transportSocket|secret|certificate/i;
const PEM_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

export function redact(value: unknown, sensitive = false): unknown {
  if (typeof value === 'string') return PEM_KEY.test(value) ? REDACTED : value;
  if (Array.isArray(value)) return value.map((v) => redact(v, sensitive));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_KEYS.has(k) && !isFileOnly(v)) out[k] = REDACTED;
    else if (sensitive && INLINE_KEYS.has(k)) out[k] = REDACTED;
    else out[k] = redact(v, sensitive || SENSITIVE_SUBTREE.test(k));
  }
  return out;
}

/** A DataSource that only names a file (or environment variable) reveals no secret. */
function isFileOnly(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys.every((k) => k === 'filename' || k === 'environmentVariable' || k === 'watchedDirectory');
}

export function configDump(c: LoadedConfig | undefined): unknown {
  if (!c) return { version: null, loadedAt: null };
  const { config } = c;
  return redact({
    version: c.version,
    loadedAt: c.loadedAt.toISOString(),
    workload: config.workload,
    listeners: config.listeners,
    routes: config.routes,
    clusters: config.clusters,
    endpoints: config.endpoints,
  });
}
