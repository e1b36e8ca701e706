// What the injector needs to know besides the pod: the injector's options (image, sidecar mode, defaults) and the
// per-pod overrides read from annotations. In: InjectOptions and a pod's annotations. Out: the settings one pod
// is injected with, plus warnings for annotation values that were ignored.

/**
 * How the proxy runs next to the application:
 * - `native`: an init container with `restartPolicy: Always` (Kubernetes ≥ 1.29): it starts before the app, is
 *   stopped after it, and does not keep Jobs alive.
 * - `container`: the first regular container, holding the app's start with a postStart hook until /ready
 *   answers (clusters without native sidecars).
 */
export type SidecarMode = 'native' | 'container';

export interface InjectOptions {
  /** Image of weft-proxy (the weft image). */
  image?: string;
  /** Image of weft-init; it needs `iptables` and `sh`. Default: `image`. */
  initImage?: string;
  mode?: SidecarMode;
  /** Rewrite the app's httpGet probes to the proxy's status port (default true; per pod: rewriteAppHTTPProbers). */
  rewriteProbes?: boolean;
  cpuRequest?: string;
  memoryRequest?: string;
  logLevel?: string;
}

export const DEFAULT_IMAGE = 'weft:0.1.0';
export const PROXY_UID = 1337;
export const ADMIN_PORT = 15000;
/** Istio's health port: /healthz/ready on the pod's addresses, for the kubelet's probes. */
export const HEALTH_PORT = 15021;
export const OUTBOUND_PORT = 15001;
export const INBOUND_PORT = 15006;
/** Where rewritten application probes arrive (`/app-health/<container>/<kind>`). */
export const STATUS_PORT = 15020;
/** Istio's metrics port: /stats/prometheus for scrapers outside the pod. */
export const METRICS_PORT = 15090;
/** Ports the proxy itself serves on the pod: never captured inbound. */
export const PROXY_PORTS: readonly number[] = [ADMIN_PORT, OUTBOUND_PORT, INBOUND_PORT, STATUS_PORT, HEALTH_PORT, METRICS_PORT];

const LOG_LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);
/** Istio's `sidecar.istio.io/logLevel` also knows trace/warning/critical/off; mapped onto weft's four. */
const LOG_ALIASES: Readonly<Record<string, string>> = { trace: 'debug', warning: 'warn', critical: 'error', off: 'error' };
const QUANTITY = /^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;
const UNITS: Readonly<Record<string, number>> = { '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** A quantity that passed QUANTITY, as a number (cores or bytes). */
function quantityValue(q: string): number {
  const m = /^([\d.]+)(\D*)$/.exec(q)!;
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** Kubernetes rejects a request above its limit: the request comes down to the limit, with a warning. */
function fitRequest(name: string, request: string, limit: string | undefined, warnings: string[]): string {
  if (!limit || quantityValue(request) <= quantityValue(limit)) return request;
  warnings.push(`proxy ${name} request ${request} is above its limit ${limit}; requesting ${limit}`);
  return limit;
}

export interface PodSettings {
  image: string;
  initImage: string;
  mode: SidecarMode;
  rewriteProbes: boolean;
  cpu: string;
  memory: string;
  /** Istio's proxyCPULimit / proxyMemoryLimit: none unless asked (the kubelet OOM-kills a proxy over its memory limit). */
  cpuLimit?: string;
  memoryLimit?: string;
  logLevel: string;
  excludeInbound: number[];
  excludeOutbound: number[];
}

/** Each override is read under Istio's annotation and under weft's own prefix; weft's spelling wins. */
const prefixes = { sidecar: ['sidecar.istio.io/', 'sidecar.weft.dev/'], traffic: ['traffic.sidecar.istio.io/', 'traffic.sidecar.weft.dev/'] };

function annotation(annotations: Readonly<Record<string, string>>, group: keyof typeof prefixes, key: string): { name: string; value: string } | undefined {
  let found: { name: string; value: string } | undefined;
  for (const p of prefixes[group]) {
    const v = annotations[p + key];
    if (v !== undefined) found = { name: p + key, value: v.trim() };
  }
  return found;
}

export function podSettings(opts: InjectOptions, annotations: Readonly<Record<string, string>>): { settings: PodSettings; warnings: string[] } {
  const warnings: string[] = [];
  function quantity(key: string, fallback: string): string;
  function quantity(key: string, fallback: undefined): string | undefined;
  function quantity(key: string, fallback: string | undefined): string | undefined {
    const a = annotation(annotations, 'sidecar', key);
    if (!a) return fallback;
    if (QUANTITY.test(a.value)) return a.value;
    warnings.push(`${a.name}: "${a.value}" is not a resource quantity; using ${fallback ?? 'none'}`);
    return fallback;
  }
  const ports = (key: string) => {
    const a = annotation(annotations, 'traffic', key);
    if (!a || a.value === '') return [];
    const out: number[] = [];
    for (const part of a.value.split(',')) {
      const p = part.trim();
      // Digits only: the ports reach weft-init's shell script, so nothing else may pass.
      if (/^\d{1,5}$/.test(p) && Number(p) >= 1 && Number(p) <= 65535) out.push(Number(p));
      else warnings.push(`${a.name}: "${p}" is not a port; ignored`);
    }
    return [...new Set(out)];
  };
  let logLevel = opts.logLevel ?? 'info';
  const level = annotation(annotations, 'sidecar', 'logLevel');
  if (level) {
    const v = LOG_ALIASES[level.value.toLowerCase()] ?? level.value.toLowerCase();
    if (LOG_LEVELS.has(v)) logLevel = v;
    else warnings.push(`${level.name}: unknown level "${level.value}"; using ${logLevel}`);
  }
  const image = opts.image ?? DEFAULT_IMAGE;
  const cpuLimit = quantity('proxyCPULimit', undefined);
  const memoryLimit = quantity('proxyMemoryLimit', undefined);
  const rewrite = annotation(annotations, 'sidecar', 'rewriteAppHTTPProbers');
  return {
    settings: {
      image,
      initImage: opts.initImage ?? image,
      mode: opts.mode ?? 'native',
      rewriteProbes: rewrite ? rewrite.value !== 'false' : (opts.rewriteProbes ?? true),
      // Istio's defaults for the sidecar's requests.
      cpu: fitRequest('cpu', quantity('proxyCPU', opts.cpuRequest ?? '100m'), cpuLimit, warnings),
      memory: fitRequest('memory', quantity('proxyMemory', opts.memoryRequest ?? '128Mi'), memoryLimit, warnings),
      cpuLimit,
      memoryLimit,
      logLevel,
      excludeInbound: ports('excludeInboundPorts'),
      excludeOutbound: ports('excludeOutboundPorts'),
    },
    warnings,
  };
}
