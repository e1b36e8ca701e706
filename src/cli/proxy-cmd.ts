// `weft proxy`: runs the sidecar. In: the arguments after `proxy` (the shared flag loop). Out: ProxyArgs, and a
// running sidecar until SIGTERM/SIGINT or POST /quitquitquit, then a graceful drain and exit status 0.
import type { Level } from '../controllers/log.ts';
import type { ExplicitListener } from '../proxy/net/listeners.ts';
import { eachFlag } from './flags.ts';
import { APP_PROBERS_ENV, parseProbers } from '../proxy/admin/app-probes.ts';
import { PROXY_CONFIG_DIR } from '../translate/envoy/bundle-format.ts';
import { IDENTITY_DIR } from '../translate/identity-files.ts';
import { CREDENTIALS_DIR } from '../proxy/config/credentials.ts';

export interface ProxyArgs {
  configDir: string;
  identityDir: string;
  /** A gateway's mounted credentials Secret; an absent or empty directory means no credentials. */
  credentialsDir: string;
  admin: { host: string; port: number };
  /** Istio's metrics-only port for scrapes from outside the pod (e.g. 0.0.0.0:15090); off unless given. */
  prometheus?: { host: string; port: number };
  health?: { host: string; port: number };
  status?: { host: string; port: number };
  capture: 'iptables' | 'none';
  outboundPort: number;
  inboundPort: number;
  explicit: ExplicitListener[];
  gateway: boolean;
  logLevel: Level;
  accessLog: 'stdout' | 'off';
  drainTimeoutMs: number;
}

export const PROXY_HELP = `proxy flags:
      --config-dir DIR               mounted proxy ConfigMap (config.pb.gz) (default /etc/weft/proxy)
      --identity-dir DIR             mounted identity Secret (cert-chain.pem, key.pem, root-cert.pem) (default /etc/weft/identity)
      --credentials-dir DIR          mounted gateway credentials Secret (<name>.tls.crt, <name>.tls.key, <name>.ca.crt) (default /etc/weft/credentials)
      --admin HOST:PORT              admin endpoint (default 127.0.0.1:15000)
      --prometheus HOST:PORT         also serve /stats/prometheus here, e.g. 0.0.0.0:15090 (default off)
      --health HOST:PORT             serve /healthz/ready here for the kubelet, e.g. 0.0.0.0:15021 (default off)
      --status HOST:PORT             serve the app's probes from $WEFT_APP_PROBERS here, e.g. 0.0.0.0:15020 (default off)
      --capture iptables|none        capture listeners with SO_ORIGINAL_DST, or none (default iptables)
      --outbound-port PORT           outbound capture port (default 15001)
      --inbound-port PORT            inbound capture port (default 15006)
      --explicit BIND=DIR:DST        e.g. 127.0.0.1:8080=outbound:10.96.0.5:80; accepts as if captured (repeatable)
      --gateway                      bind the config's own listeners (gateways), no capture
      --log-level LEVEL              debug, info, warn, error (default info)
      --access-log stdout|off        JSON access log lines on stdout (default stdout)
      --drain-timeout DURATION       how long to let connections finish on shutdown (default 5s)
`;

/** `5s`, `250ms`, `1m`, `1.5s`; a bare number is seconds. */
export function parseDuration(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}

/** `host:port`, `[v6]:port`; undefined when malformed. */
function parseHostPort(v: string): { host: string; port: number } | undefined {
  const i = v.lastIndexOf(':');
  if (i <= 0) return undefined;
  let host = v.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = parsePort(v.slice(i + 1));
  return host && port !== undefined ? { host, port } : undefined;
}

function parsePort(v: string): number | undefined {
  if (!/^\d{1,5}$/.test(v)) return undefined;
  const n = Number(v);
  return n <= 65535 ? n : undefined;
}

function parseExplicit(v: string): ExplicitListener | undefined {
  const eq = v.indexOf('=');
  if (eq < 0) return undefined;
  const bind = parseHostPort(v.slice(0, eq));
  const rest = v.slice(eq + 1);
  const colon = rest.indexOf(':');
  const direction = rest.slice(0, colon);
  const dst = parseHostPort(rest.slice(colon + 1));
  if (!bind || !dst || (direction !== 'outbound' && direction !== 'inbound')) return undefined;
  return { bindHost: bind.host, bindPort: bind.port, direction, destinationIp: dst.host, destinationPort: dst.port };
}

export function parseProxyArgs(argv: string[], usage: (message: string) => Error): ProxyArgs {
  const out: ProxyArgs = {
    configDir: PROXY_CONFIG_DIR,
    identityDir: IDENTITY_DIR,
    credentialsDir: CREDENTIALS_DIR,
    admin: { host: '127.0.0.1', port: 15000 },
    capture: 'iptables',
    outboundPort: 15001,
    inboundPort: 15006,
    explicit: [],
    gateway: false,
    logLevel: 'info',
    accessLog: 'stdout',
    drainTimeoutMs: 5000,
  };
  const port = (flag: string, v: string): number => {
    const p = parsePort(v);
    if (p === undefined) throw usage(`${flag} must be a port number, not "${v}"`);
    return p;
  };
  const hostPort = (flag: string, v: string): { host: string; port: number } => {
    const a = parseHostPort(v);
    if (!a) throw usage(`${flag} must be HOST:PORT, not "${v}"`);
    return a;
  };
  eachFlag(argv, usage, (flag, arg, value) => {
    switch (flag) {
      case '--config-dir':
        out.configDir = value();
        break;
      case '--identity-dir':
        out.identityDir = value();
        break;
      case '--credentials-dir':
        out.credentialsDir = value();
        break;
      case '--admin':
        out.admin = hostPort(flag, value());
        break;
      case '--prometheus':
        out.prometheus = hostPort(flag, value());
        break;
      case '--health':
        out.health = hostPort(flag, value());
        break;
      case '--status':
        out.status = hostPort(flag, value());
        break;
      case '--capture': {
        const v = value();
        if (v !== 'iptables' && v !== 'none') throw usage(`--capture must be iptables or none, not "${v}"`);
        out.capture = v;
        break;
      }
      case '--outbound-port':
        out.outboundPort = port(flag, value());
        break;
      case '--inbound-port':
        out.inboundPort = port(flag, value());
        break;
      case '--explicit': {
        const v = value();
        const e = parseExplicit(v);
        if (!e) throw usage(`--explicit must be <bind-ip>:<bind-port>=<outbound|inbound>:<dst-ip>:<dst-port>, not "${v}"`);
        out.explicit.push(e);
        break;
      }
      case '--gateway':
        if (arg !== '--gateway') throw usage('--gateway takes no value');
        out.gateway = true;
        break;
      case '--log-level': {
        const v = value();
        if (v !== 'debug' && v !== 'info' && v !== 'warn' && v !== 'error') throw usage(`--log-level must be debug, info, warn or error, not "${v}"`);
        out.logLevel = v;
        break;
      }
      case '--access-log': {
        const v = value();
        if (v !== 'stdout' && v !== 'off') throw usage(`--access-log must be stdout or off, not "${v}"`);
        out.accessLog = v;
        break;
      }
      case '--drain-timeout': {
        const v = value();
        const ms = parseDuration(v);
        if (ms === undefined) throw usage(`--drain-timeout must be a duration like 5s or 500ms, not "${v}"`);
        out.drainTimeoutMs = ms;
        break;
      }
      case '-h':
      case '--help':
        throw usage('');
      default:
        throw usage(`unknown argument "${arg}"`);
    }
  });
  if (out.gateway && out.capture === 'iptables' && !argv.some((a) => a.startsWith('--capture'))) out.capture = 'none';
  return out;
}

/**
 * Runs the sidecar until SIGTERM/SIGINT or POST /quitquitquit; resolves to the exit status (0 after a graceful
 * drain, 1 when it could not start, e.g. a port in use).
 */
export async function runProxy(args: ProxyArgs): Promise<number> {
  const { createLogger } = await import('../controllers/log.ts');
  const { startSidecar } = await import('../proxy/sidecar.ts');
  const { defaultParts } = await import('../proxy/sidecar-parts.ts');
  const log = createLogger('weft-proxy', { level: args.logLevel });
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { error: reason }));
  let sidecar;
  try {
    sidecar = await startSidecar({
      configDir: args.configDir,
      identityDir: args.identityDir,
      credentialsDir: args.credentialsDir,
      admin: args.admin,
      ...(args.prometheus ? { prometheus: args.prometheus } : {}),
      ...(args.health ? { health: args.health } : {}),
      ...(args.status ? { status: { ...args.status, probers: parseProbers(process.env[APP_PROBERS_ENV]) } } : {}),
      listeners: { capture: args.capture, outboundPort: args.outboundPort, inboundPort: args.inboundPort, explicit: args.explicit, gateway: args.gateway },
      drainTimeoutMs: args.drainTimeoutMs,
      ...(args.accessLog === 'stdout' ? { accessLog: (chunk: string) => void process.stdout.write(chunk) } : {}),
      log,
      parts: defaultParts(log.child('net')),
    });
  } catch (e) {
    log.error('proxy failed to start', { error: e });
    return 1;
  }
  const s = sidecar;
  return new Promise<number>((resolve) => {
    s.ready().catch(() => resolve(1));
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (++signals > 1) {
        log.warn('second signal, exiting now', { signal });
        resolve(1);
        return;
      }
      void s.shutdown(signal).then(() => resolve(0));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // /quitquitquit starts the same drain from inside; the process exits when it is done.
    s.stopped().then(() => resolve(0), () => resolve(1));
  });
}
