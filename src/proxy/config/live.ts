// The live config, identity and gateway credentials of the proxy. In: the config, identity and credentials
// directories (kubelet-projected). Out: a LiveConfig whose current()/identity()/credentials() are replaced
// atomically when a new version loads, config and identity kept as last-known-good when a new version is rejected
// (logged and counted), and change listeners. Certificate files named in the config under /etc/weft/identity/ and
// /etc/weft/credentials/ resolve to the live identity and credentials; other files are read from disk once per
// config version. Credentials are not validated here: a bad one fails the handshakes of the chains naming it.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Logger } from '../../controllers/log.ts';
import { PROXY_CONFIG_KEY } from '../../translate/envoy/bundle-format.ts';
import { IDENTITY_DIR } from '../../translate/identity-files.ts';
import type { FileSource, Identity, LiveConfig, LoadedConfig, Telemetry } from '../runtime.ts';
import { watchAtomicDir } from './atomic-dir.ts';
import { CREDENTIALS_DIR, credentialNames, credentialsOf } from './credentials.ts';
import type { Credentials } from './credentials.ts';
import type { DirSnapshot, DirWatcher, WatchOptions } from './atomic-dir.ts';
import { loadIdentity, loadProxyConfig } from './loader.ts';

export interface LiveConfigOptions extends WatchOptions {
  configDir: string;
  /** Without one, the proxy runs with no identity (plaintext only). */
  identityDir?: string;
  /** A gateway's credentials Secret (`<X>.tls.crt`, `<X>.tls.key`, `<X>.ca.crt`); none when absent. */
  credentialsDir?: string;
  telemetry: Pick<Telemetry, 'configAccepted' | 'configRejected'>;
  log: Logger;
  /** Wall clock for loadedAt and expiry checks. */
  clock?: () => Date;
}

export interface WatchedLiveConfig extends LiveConfig {
  /** Resolves once the first valid config is loaded. */
  ready(): Promise<LoadedConfig>;
  close(): void;
}

const IDENTITY_PREFIX = `${IDENTITY_DIR}/`;
const CREDENTIALS_PREFIX = `${CREDENTIALS_DIR}/`;

function identityFile(id: Identity, name: string): string | undefined {
  switch (name) {
    case 'cert-chain.pem':
      return id.certChain;
    case 'key.pem':
      return id.key;
    case 'root-cert.pem':
      return id.rootCerts;
    default:
      return undefined;
  }
}

export function startLiveConfig(opts: LiveConfigOptions): WatchedLiveConfig {
  const clock = opts.clock ?? (() => new Date());
  const log = opts.log;
  let config: LoadedConfig | undefined;
  let identity: Identity | undefined;
  let credentials: Credentials | undefined;
  let fileCache = new Map<string, string | undefined>();
  type What = 'config' | 'identity' | 'credentials';
  const listeners = new Set<(what: What) => void>();
  let resolveReady: (c: LoadedConfig) => void = () => {};
  const readyPromise = new Promise<LoadedConfig>((r) => (resolveReady = r));

  const notify = (what: What): void => {
    for (const l of [...listeners]) {
      try {
        l(what);
      } catch (e) {
        log.error('config change listener failed', { what, error: e });
      }
    }
  };

  const rejected = (what: 'config' | 'identity', stamp: string, reason: string): void => {
    log.warn(`${what} rejected, keeping the last good one`, { what, stamp, reason, keeping: what === 'config' ? config?.version : identity?.spiffeId });
    opts.telemetry.configRejected(what, reason);
  };

  // An empty directory is a volume not populated yet (an optional Secret, a plain directory being set up):
  // nothing to load, and nothing to count as rejected.
  const empty = (what: 'config' | 'identity', snap: DirSnapshot): boolean => {
    if (snap.files.size > 0) return false;
    log.debug(`${what} directory is empty`, { stamp: snap.stamp });
    return true;
  };

  const onConfig = (snap: DirSnapshot): void => {
    if (empty('config', snap)) return;
    const data = snap.files.get(PROXY_CONFIG_KEY);
    if (!data) return rejected('config', snap.stamp, `${PROXY_CONFIG_KEY} is missing`);
    const r = loadProxyConfig(data, clock());
    if (r.kind === 'rejected') return rejected('config', snap.stamp, r.reason);
    if (config && config.version === r.value.version) return;
    config = r.value;
    fileCache = new Map();
    for (const w of r.warnings) log.warn('config warning', { version: config.version, warning: w });
    log.info('config loaded', { version: config.version, listeners: config.config.listeners.length, clusters: config.config.clusters.length });
    opts.telemetry.configAccepted('config', config.version);
    resolveReady(config);
    notify('config');
  };

  const onIdentity = (snap: DirSnapshot): void => {
    if (empty('identity', snap)) return;
    const text = (n: string) => snap.files.get(n)?.toString('utf8');
    const r = loadIdentity({ certChain: text('cert-chain.pem'), key: text('key.pem'), rootCerts: text('root-cert.pem') }, clock());
    if (r.kind === 'rejected') return rejected('identity', snap.stamp, r.reason);
    identity = r.value;
    for (const w of r.warnings) log.warn('identity warning', { spiffeId: identity.spiffeId, warning: w });
    log.info('identity loaded', { spiffeId: identity.spiffeId, notAfter: identity.notAfter.toISOString() });
    opts.telemetry.configAccepted('identity', identity.spiffeId);
    notify('identity');
  };

  const onCredentials = (snap: DirSnapshot): void => {
    credentials = credentialsOf(snap.stamp, snap.files);
    log.info('credentials loaded', { stamp: snap.stamp, credentials: credentialNames(credentials) });
    notify('credentials');
  };

  const files: FileSource = {
    read(path) {
      if (path.startsWith(IDENTITY_PREFIX)) return identity ? identityFile(identity, basename(path)) : undefined;
      if (path.startsWith(CREDENTIALS_PREFIX)) return credentials?.files.get(path.slice(CREDENTIALS_PREFIX.length));
      if (fileCache.has(path)) return fileCache.get(path);
      let content: string | undefined;
      try {
        content = readFileSync(path, 'utf8');
      } catch {
        content = undefined;
      }
      fileCache.set(path, content);
      return content;
    },
  };

  const watchOpts: WatchOptions = {
    ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
    ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}),
  };
  // Identity first: the first config's clusters may need the certificates.
  const watchers: DirWatcher[] = [];
  if (opts.identityDir) watchers.push(watchAtomicDir(opts.identityDir, onIdentity, watchOpts));
  if (opts.credentialsDir) watchers.push(watchAtomicDir(opts.credentialsDir, onCredentials, watchOpts));
  watchers.push(watchAtomicDir(opts.configDir, onConfig, watchOpts));

  return {
    current: () => config,
    identity: () => identity,
    credentials: () => credentials,
    files,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    ready: () => readyPromise,
    close() {
      for (const w of watchers) w.close();
    },
  };
}
