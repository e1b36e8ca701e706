// Turns mounted files into what the proxy runs on. In: the bytes of `config.pb.gz`, or the three identity PEM
// files. Out: a LoadedConfig / Identity, or a rejection with a reason (the caller keeps last-known-good).
// Only what would break the proxy is rejected: bytes that do not decode, a bundle without a workload, a listener
// naming a route configuration that does not exist (Envoy would never warm it), a route table that does not
// compile, and a filter the sidecar would have to skip — an HTTP filter type no stage carries out (filters/
// registry.ts, plus the router) or a network filter other than RBAC, ext_authz, tcp_proxy and the connection
// manager (a skipped authorization filter is an open door). A route naming a missing cluster is a warning: Envoy
// answers such requests 503 (flag NC) at run time; so are network ext_authz fields the sidecar does not carry out
// (include_peer_certificate, bootstrap_metadata_labels_key, send_tls_alert_on_denial).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { unpackProxyConfig } from '../../controllers/proxy-bundle.ts';
import { compileProxy, HCM_TYPE, TCP_PROXY_TYPE } from '../routing/engine.ts';
import { anyType, arr, isObj, obj, str } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import { compileRouteTable } from '../routing/route-table.ts';
import { NETWORK_EXT_AUTHZ_TYPE } from '../authz/chain-summary.ts';
import { NETWORK_RBAC_TYPE } from '../authz/rbac-filter.ts';
import { ROUTER_TYPE } from '../http/filters/chain.ts';
import { STAGES } from '../http/filters/registry.ts';
import type { Identity, LoadedConfig } from '../runtime.ts';

export type LoadResult<T> =
  | { kind: 'ok'; value: T; warnings: string[] }
  | { kind: 'rejected'; reason: string };

const reject = (reason: string): { kind: 'rejected'; reason: string } => ({ kind: 'rejected', reason });

/** Clusters the proxy knows without a Cluster resource (Istio's names). */
const SPECIAL_CLUSTERS: ReadonlySet<string> = new Set(['BlackHoleCluster', 'PassthroughCluster', 'InboundPassthroughCluster']);

/** The network filters the sidecar executes (authz/connection.ts, net/tcp-proxy.ts, the HTTP handler). */
const NETWORK_FILTERS: ReadonlySet<string> = new Set([NETWORK_RBAC_TYPE, NETWORK_EXT_AUTHZ_TYPE, TCP_PROXY_TYPE, HCM_TYPE]);

/** The router ends every chain; written without a typed config it is known by its name (filters/chain.ts). */
const isRouter = (type: string, name: string): boolean => type === ROUTER_TYPE || (type === '' && name === 'envoy.filters.http.router');

function unsupportedHttpFilters(where: string, hcm: Obj): string[] {
  const errors: string[] = [];
  for (const f of arr(hcm.httpFilters)) {
    const type = anyType(obj(f.typedConfig));
    if (isRouter(type, str(f.name)) || STAGES.has(type)) continue;
    errors.push(`${where} lists HTTP filter "${str(f.name)}" (${type || 'no type'}), which this proxy does not carry out`);
  }
  return errors;
}

function filterChains(l: Obj): Obj[] {
  return [...arr(l.filterChains), ...(isObj(l.defaultFilterChain) ? [l.defaultFilterChain] : [])];
}

/** Cluster names a route action or tcp_proxy config points at (cluster_header targets are only known per request). */
function clustersOf(action: Obj): string[] {
  const names = str(action.cluster) ? [str(action.cluster)] : [];
  for (const w of arr(obj(action.weightedClusters).clusters)) if (str(w.name)) names.push(str(w.name));
  return names;
}

/** Problems that make the config unusable (errors) and ones Envoy tolerates at run time (warnings). */
export function checkReferences(config: LoadedConfig['config']): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const routeNames = new Set(config.routes.map((r) => str(r.name)));
  const clusterNames = new Set(config.clusters.map((c) => str(c.name)));
  const missingCluster = (where: string, name: string): void => {
    if (!clusterNames.has(name) && !SPECIAL_CLUSTERS.has(name)) warnings.push(`${where} names cluster "${name}" which does not exist`);
  };
  const inlineRoutes: Obj[] = [];
  for (const l of config.listeners) {
    for (const fc of filterChains(l)) {
      const where = `listener "${str(l.name)}"${str(fc.name) ? ` filter chain "${str(fc.name)}"` : ''}`;
      for (const f of arr(fc.filters)) {
        const tc = obj(f.typedConfig);
        const type = anyType(tc);
        if (!NETWORK_FILTERS.has(type)) {
          errors.push(`${where} lists network filter "${str(f.name)}" (${type || 'no type'}), which this proxy does not carry out`);
        }
        if (type === NETWORK_EXT_AUTHZ_TYPE) {
          for (const field of ['includePeerCertificate', 'bootstrapMetadataLabelsKey', 'sendTlsAlertOnDenial']) {
            if (tc[field] !== undefined && tc[field] !== false && tc[field] !== '') warnings.push(`${where} ext_authz ${field} is not carried out`);
          }
        }
        if (type === HCM_TYPE) {
          errors.push(...unsupportedHttpFilters(where, tc));
          if (isObj(tc.rds)) {
            const name = str(tc.rds.routeConfigName);
            if (!routeNames.has(name)) errors.push(`listener "${str(l.name)}" uses route configuration "${name}" which does not exist`);
          } else if (isObj(tc.routeConfig)) inlineRoutes.push(tc.routeConfig);
        } else if (type === TCP_PROXY_TYPE) {
          for (const c of clustersOf(tc)) missingCluster(`listener "${str(l.name)}" tcp_proxy`, c);
        }
      }
    }
  }
  for (const rc of [...config.routes, ...inlineRoutes]) {
    try {
      compileRouteTable(rc);
    } catch (e) {
      errors.push(`route configuration "${str(rc.name)}" does not compile: ${(e as Error).message}`);
      continue;
    }
    for (const vh of arr(rc.virtualHosts)) {
      for (const r of arr(vh.routes)) {
        if (isObj(r.route)) for (const c of clustersOf(r.route)) missingCluster(`route "${str(rc.name)}/${str(vh.name)}"`, c);
      }
    }
  }
  return { errors, warnings };
}

/** Decodes, checks and compiles the bundle; `loadedAt` is when it was read. */
export function loadProxyConfig(data: Uint8Array, loadedAt: Date): LoadResult<LoadedConfig> {
  if (data.length === 0) return reject('config file is empty');
  let unpacked;
  try {
    unpacked = unpackProxyConfig(data);
  } catch (e) {
    return reject(`config does not decode: ${(e as Error).message}`);
  }
  const { config, hash } = unpacked;
  if (!config.workload.name || !config.workload.namespace) return reject('config is not a proxy bundle: it names no workload');
  const { errors, warnings } = checkReferences(config);
  if (errors.length > 0) return reject(errors.join('; '));
  let compiled;
  try {
    compiled = compileProxy(config);
  } catch (e) {
    return reject(`config does not compile: ${(e as Error).message}`);
  }
  if (config.listeners.length === 0) warnings.push('config has no listeners');
  return { kind: 'ok', value: { version: config.version ?? hash, config, compiled, loadedAt }, warnings };
}

export interface IdentityFiles {
  certChain?: string;
  key?: string;
  rootCerts?: string;
}

/** Parses the workload identity: the leaf's SPIFFE URI SAN and expiry; the key must belong to the leaf. */
export function loadIdentity(files: IdentityFiles, now: Date): LoadResult<Identity> {
  const { certChain, key, rootCerts } = files;
  if (!certChain || !key || !rootCerts) {
    const missing = [!certChain && 'cert-chain.pem', !key && 'key.pem', !rootCerts && 'root-cert.pem'].filter(Boolean);
    return reject(`identity is incomplete: missing ${missing.join(', ')}`);
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certChain);
  } catch (e) {
    return reject(`cert-chain.pem does not parse: ${(e as Error).message}`);
  }
  try {
    new X509Certificate(rootCerts);
  } catch (e) {
    return reject(`root-cert.pem does not parse: ${(e as Error).message}`);
  }
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    return reject(`key.pem does not parse: ${(e as Error).message}`);
  }
  if (!matches) return reject('key.pem does not belong to the certificate in cert-chain.pem');
  const spiffeId = /URI:(spiffe:\/\/[^,\s]+)/.exec(leaf.subjectAltName ?? '')?.[1];
  if (!spiffeId) return reject('the certificate in cert-chain.pem has no spiffe:// URI SAN');
  const notAfter = new Date(leaf.validTo);
  const warnings = notAfter.getTime() <= now.getTime() ? [`the certificate expired at ${notAfter.toISOString()}`] : [];
  return { kind: 'ok', value: { certChain, key, rootCerts, spiffeId, notAfter }, warnings };
}
