// validateGateway: a Gateway as the API server stores it -> {errors, warnings}.
// Istio's semantic rules for servers (hosts, ports, protocols, binds, TLS modes) plus every CEL rule of
// crds/networking.istio.io_gateways.yaml (same messages), so offline validation agrees with the API server.
import type { Gateway, GatewaySpec } from '../api/gateway.ts';
import { checkDnsLabel, checkIp, checkLabels, checkPort } from './common.ts';
import { checkWildcardDomain, isIpAddress } from './networking-common.ts';
import { at, Findings } from './result.ts';
import type { ValidationResult } from './result.ts';

type Server = NonNullable<GatewaySpec['servers']>[number];
type ServerTLS = NonNullable<Server['tls']>;

/** Messages shared with the CEL rules of the CRD (keep identical). */
export const GATEWAY_CEL = {
  portNumber: 'port.number must be 1-65535 (and exactly 0 when bind is a unix:// socket)',
  credentials: 'tls: only one of credentialName, credentialNames or tlsCertificates may be set',
} as const;

const UNIX = 'unix://';
/** Protocol names a server port may use (case-insensitive), as Istio parses them. */
const PROTOCOLS = new Set(['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'HTTP_PROXY', 'MONGO', 'MYSQL', 'REDIS', 'TCP', 'TLS', 'UDP']);
const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB', 'HTTP_PROXY']);
const TLS_PROTOCOLS = new Set(['HTTPS', 'TLS']);
const MODES = ['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'];
const TLS_VERSIONS = ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'];
/** Cipher suites the proxy knows (OpenSSL/BoringSSL names). Unknown ones are ignored with a warning. */
const CIPHERS = new Set([
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES256-SHA',
  'AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA', 'AES256-SHA', 'DES-CBC3-SHA',
  'ECDHE-PSK-AES128-CBC-SHA', 'ECDHE-PSK-AES256-CBC-SHA', 'PSK-AES128-CBC-SHA', 'PSK-AES256-CBC-SHA',
  'ECDHE-PSK-CHACHA20-POLY1305', 'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
]);

export function validateGateway(obj: Gateway): ValidationResult {
  const f = new Findings();
  const name = obj.metadata?.name;
  if (name !== undefined && checkDnsLabel(name)) f.error('metadata.name', `invalid Gateway name "${name}": it must be a DNS label (no dots)`);
  const spec = obj.spec ?? {};
  checkLabels(spec.selector as Record<string, string> | undefined, (k, msg) => f.error(`spec.selector[${k}]`, msg));

  const servers = spec.servers ?? [];
  if (servers.length === 0) f.error('spec.servers', 'a Gateway needs at least one server');
  const portNames = new Map<string, number>();
  const serverNames = new Map<string, number>();
  servers.forEach((s, i) => {
    const path = at('spec.servers', i);
    validateServer(s, path, f);
    const portName = s.port?.name;
    if (portName !== undefined) {
      const first = portNames.get(portName);
      if (first !== undefined) f.error(at(path, 'port', 'name'), `port name "${portName}" is already used by spec.servers[${first}]; port names must be unique across servers`);
      else portNames.set(portName, i);
    }
    if (s.name) {
      const first = serverNames.get(s.name);
      if (first !== undefined) f.error(at(path, 'name'), `server name "${s.name}" is already used by spec.servers[${first}]`);
      else serverNames.set(s.name, i);
    }
  });
  return f.result();
}

function validateServer(s: Server, path: string, f: Findings): void {
  const hosts = s.hosts ?? [];
  if (hosts.length === 0) f.error(at(path, 'hosts'), 'a server needs at least one host');
  hosts.forEach((h, i) => {
    const err = checkServerHost(h);
    if (err) f.error(at(path, 'hosts', i), err);
  });

  const bind = s.bind ?? '';
  const unix = bind.startsWith(UNIX);
  const port = s.port;
  let protocol: string | undefined;
  if (!port) f.error(at(path, 'port'), 'port is required');
  else {
    const pp = at(path, 'port');
    protocol = typeof port.protocol === 'string' ? port.protocol.toUpperCase() : undefined;
    if (!protocol || !PROTOCOLS.has(protocol)) {
      f.error(at(pp, 'protocol'), `invalid protocol "${port.protocol ?? ''}": use HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, MYSQL, REDIS, TCP or TLS`);
      protocol = undefined;
    }
    if (unix ? port.number !== 0 : checkPort(port.number)) f.error(at(pp, 'number'), GATEWAY_CEL.portNumber);
    if (port.targetPort !== undefined && port.targetPort > 0) f.error(at(pp, 'targetPort'), 'targetPort has no effect on Gateways; remove it');
    if (!port.name) f.error(at(pp, 'name'), 'port name is required');
  }
  if (unix) {
    const sock = bind.slice(UNIX.length);
    if (sock === '' || (!sock.startsWith('@') && (!sock.startsWith('/') || sock.endsWith('/')))) {
      f.error(at(path, 'bind'), `"${bind}" must name an absolute socket path (unix:///path) or an abstract socket (unix://@name)`);
    }
  } else if (bind !== '') {
    const err = checkIp(bind);
    if (err) f.error(at(path, 'bind'), err);
  }

  const tls = s.tls;
  if (tls) checkTls(tls, at(path, 'tls'), f);
  if (protocol) {
    const httpRedirectOnly = tls && isPassthrough(tls) && !tls.serverCertificate && !tls.privateKey && !tls.caCertificates;
    if (TLS_PROTOCOLS.has(protocol) && !tls) f.error(at(path, 'tls'), `a ${protocol} server needs tls settings`);
    else if (tls && !TLS_PROTOCOLS.has(protocol)) {
      if (!HTTP_PROTOCOLS.has(protocol)) f.error(at(path, 'tls'), `a ${protocol} server cannot have tls settings (use HTTPS or TLS)`);
      else if (!httpRedirectOnly) f.error(at(path, 'tls'), `a plain-text ${protocol} server cannot terminate TLS; only tls.httpsRedirect may be set`);
    }
    if (tls?.httpsRedirect && !HTTP_PROTOCOLS.has(protocol)) f.warn(at(path, 'tls', 'httpsRedirect'), 'httpsRedirect only has an effect on HTTP servers');
  }
}

/** Server hosts: `host` or `namespace/host`, with `.`/`*` as namespace; no short names, no partial wildcards. */
function checkServerHost(entry: string): string | undefined {
  const slash = entry.indexOf('/');
  let host = entry;
  if (slash >= 0) {
    const ns = entry.slice(0, slash);
    host = entry.slice(slash + 1);
    if (ns === '' || host === '') return `host "${entry}" must be namespace/host with both parts set`;
    if (ns !== '*' && ns !== '.' && checkDnsLabel(ns)) return `host "${entry}" has an invalid namespace "${ns}" (use ".", "*" or a namespace name)`;
  }
  if (host === '*') return undefined;
  if (isIpAddress(host)) return undefined;
  if (!host.includes('.')) return `host "${entry}" is a short name; gateways need a fully qualified name, a wildcard or "*"`;
  if (host.includes('*') && !host.startsWith('*.')) return `host "${entry}" has a partial wildcard; only a leading "*." is allowed`;
  return checkWildcardDomain(host);
}

/** Modes that do not terminate TLS. The mode defaults to PASSTHROUGH when unset. */
function isPassthrough(tls: ServerTLS): boolean {
  return !tls.mode || tls.mode === 'PASSTHROUGH' || tls.mode === 'AUTO_PASSTHROUGH';
}

function checkTls(tls: ServerTLS, path: string, f: Findings): void {
  const credentialSources = [tls.credentialName, tls.credentialNames, tls.tlsCertificates].filter((x) => x !== undefined).length;
  if (credentialSources > 1) f.error(path, GATEWAY_CEL.credentials);
  // The generated types say 1 or 2 entries; the offline path may still see other lengths.
  const count = (xs: readonly unknown[] | undefined): number => xs?.length ?? 1;
  if (count(tls.credentialNames) < 1 || count(tls.credentialNames) > 2) f.error(at(path, 'credentialNames'), 'credentialNames takes one or two Secret names');
  if (count(tls.tlsCertificates) < 1 || count(tls.tlsCertificates) > 2) f.error(at(path, 'tlsCertificates'), 'tlsCertificates takes one or two certificates');
  checkVersions(tls, path, f);
  checkCiphers(tls.cipherSuites ?? [], at(path, 'cipherSuites'), f);

  const mode = tls.mode ?? 'PASSTHROUGH';
  if (!MODES.includes(mode)) f.error(at(path, 'mode'), `unknown TLS mode "${mode}": use one of ${MODES.join(', ')}`);
  const hasCredential = Boolean(tls.credentialName) || (tls.credentialNames?.length ?? 0) > 0;
  if (mode === 'ISTIO_MUTUAL') {
    for (const k of ['serverCertificate', 'privateKey', 'caCertificates', 'credentialName', 'credentialNames', 'tlsCertificates'] as const) {
      if (tls[k] !== undefined && tls[k] !== '') f.error(at(path, k), `ISTIO_MUTUAL uses the mesh certificates and cannot set ${k}`);
    }
    return;
  }
  if (mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') {
    if (tls.serverCertificate || tls.privateKey || tls.caCertificates || tls.caCrl || hasCredential || tls.tlsCertificates) {
      f.warn(path, `${mode} does not terminate TLS; the certificate settings are ignored`);
    }
  }
  const terminating = mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
  if (terminating && hasCredential) return; // key, certificate and CA come from the Secret(s)
  if (terminating && tls.tlsCertificates) {
    tls.tlsCertificates.forEach((c, i) => {
      if (!c.serverCertificate) f.error(at(path, 'tlsCertificates', i, 'serverCertificate'), `${mode} TLS needs a server certificate`);
      if (!c.privateKey) f.error(at(path, 'tlsCertificates', i, 'privateKey'), `${mode} TLS needs a private key`);
    });
  } else if (terminating) {
    const hint = ' (or set credentialName)';
    if (!tls.serverCertificate) f.error(at(path, 'serverCertificate'), `${mode} TLS needs a server certificate${hint}`);
    if (!tls.privateKey) f.error(at(path, 'privateKey'), `${mode} TLS needs a private key${hint}`);
  }
  if (terminating && mode !== 'SIMPLE' && !tls.caCertificates && !tls.caCertCredentialName && !tls.tlsCertificates?.some((c) => c.caCertificates)) {
    f.error(at(path, 'caCertificates'), `${mode} TLS needs a CA bundle to verify clients (caCertificates, or credentialName with a ca.crt)`);
  }
  if (tls.caCrl) {
    if (hasCredential) f.error(at(path, 'caCrl'), 'caCrl cannot be used with credentialName; put the CRL in the Secret');
    if (mode === 'SIMPLE') f.error(at(path, 'caCrl'), 'caCrl has no use with SIMPLE TLS (no client certificates are checked)');
  }
}

function checkVersions(tls: ServerTLS, path: string, f: Findings): void {
  const min = tls.minProtocolVersion;
  const max = tls.maxProtocolVersion;
  for (const [k, v] of [['minProtocolVersion', min], ['maxProtocolVersion', max]] as const) {
    if (v !== undefined && !TLS_VERSIONS.includes(v)) f.error(at(path, k), `must be one of ${TLS_VERSIONS.join(', ')}`);
  }
  if (min && max && min !== 'TLS_AUTO' && max !== 'TLS_AUTO' && TLS_VERSIONS.indexOf(min) > TLS_VERSIONS.indexOf(max)) {
    f.error(at(path, 'minProtocolVersion'), `minProtocolVersion ${min} is above maxProtocolVersion ${max}`);
  }
  if ((min === 'TLSV1_0' || min === 'TLSV1_1') && !(tls.cipherSuites?.length)) {
    f.warn(at(path, 'minProtocolVersion'), `${min} needs cipherSuites compatible with it; the default suites only suit TLS 1.2 and later`);
  }
}

function checkCiphers(suites: readonly string[], path: string, f: Findings): void {
  const seen = new Set<string>();
  const unknown: string[] = [];
  const dup: string[] = [];
  for (const cs of suites) {
    // "[A|B]" is an equal-preference group of known suites.
    const parts = cs.startsWith('[') && cs.endsWith(']') ? cs.slice(1, -1).split('|') : [cs];
    if (!parts.every((p) => CIPHERS.has(p))) unknown.push(cs);
    else if (seen.has(cs)) dup.push(cs);
    seen.add(cs);
  }
  if (unknown.length) f.warn(path, `ignoring unknown cipher suites: ${unknown.join(', ')}`);
  if (dup.length) f.warn(path, `ignoring duplicate cipher suites: ${dup.join(', ')}`);
}
