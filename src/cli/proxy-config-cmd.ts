// `weftctl proxy-config`: which config a workload's sidecar runs. In: a pod or workload (its ConfigMap
// `weft-proxy-<workload>` is read from the API server) or a local bundle file. Out: a table per resource kind,
// or the full objects as JSON or YAML; exit status 1 when the config cannot be found or read.
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { getJson, KubeHttpError } from '../controllers/rest.ts';
import { unpackProxyConfig } from '../controllers/proxy-bundle.ts';
import { controllerOf } from '../model/kube.ts';
import { podOwner } from '../model/workloads.ts';
import type { OwnerIndex } from '../model/workloads.ts';
import type { KubeObject } from '../model/types.ts';
import { CONFIG_HASH_ANNOTATION, PROXY_CONFIG_KEY, proxyConfigMapName } from '../translate/envoy/bundle-format.ts';
import type { DecodedProxyConfig } from '../translate/envoy/proto.ts';
import { eachFlag } from './flags.ts';
import { clustersTable, endpointsTable, listenersTable, routesTable } from './proxy-config-tables.ts';

export type ProxyResource = 'listeners' | 'routes' | 'clusters' | 'endpoints' | 'all';

export interface ProxyConfigArgs {
  /** `source: 'cluster'`: a pod name, `kind/name`, or a workload name. */
  source: { kind: 'file'; path: string } | { kind: 'cluster'; target: string; namespace?: string; kubeconfig?: string };
  resource: ProxyResource;
  output: 'table' | 'json' | 'yaml';
}

const RESOURCE_WORDS: Record<string, ProxyResource> = {
  listeners: 'listeners', listener: 'listeners', l: 'listeners',
  routes: 'routes', route: 'routes', r: 'routes',
  clusters: 'clusters', cluster: 'clusters', c: 'clusters',
  endpoints: 'endpoints', endpoint: 'endpoints', ep: 'endpoints',
  all: 'all',
};

/** Parses the arguments after `proxy-config`; `usage(message)` makes the error thrown for bad usage. */
export function parseProxyConfigArgs(argv: string[], usage: (message: string) => Error): ProxyConfigArgs {
  const positional: string[] = [];
  let file: string | undefined;
  let namespace: string | undefined;
  let kubeconfig: string | undefined;
  let output: ProxyConfigArgs['output'] = 'table';
  eachFlag(argv, usage, (flag, a, value) => {
    switch (flag) {
      case '-n':
      case '--namespace':
        namespace = value();
        break;
      case '-o':
      case '--output': {
        const o = value();
        if (o !== 'table' && o !== 'json' && o !== 'yaml') throw usage(`-o must be table, json or yaml, not "${o}"`);
        output = o;
        break;
      }
      case '--kubeconfig':
        kubeconfig = value();
        break;
      case '-f':
      case '--file':
        file = value();
        break;
      case '-h':
      case '--help':
        throw usage('');
      default:
        if (a.startsWith('-') && a !== '-') throw usage(`unknown argument "${a}"`);
        positional.push(a);
    }
  });
  if (file !== undefined) {
    if (positional.length > 1) throw usage('with --file, proxy-config takes at most a resource kind');
    const word = positional[0];
    const resource = word === undefined ? 'all' : RESOURCE_WORDS[word];
    if (!resource) throw usage(`unknown resource kind "${word}" (listeners, routes, clusters, endpoints or all)`);
    return { source: { kind: 'file', path: file }, resource, output };
  }
  let target: string | undefined;
  let resource: ProxyResource | undefined = 'all';
  if (positional.length === 1) target = positional[0];
  else if (positional.length === 2) {
    // `<pod> clusters`, or istioctl's order `clusters <pod>`.
    const [a, b] = positional as [string, string];
    if (RESOURCE_WORDS[b]) [target, resource] = [a, RESOURCE_WORDS[b]];
    else if (RESOURCE_WORDS[a]) [target, resource] = [b, RESOURCE_WORDS[a]];
    else throw usage(`unknown resource kind "${b}" (listeners, routes, clusters, endpoints or all)`);
  } else {
    throw usage('proxy-config needs a pod or workload (or --file FILE), then optionally a resource kind');
  }
  return { source: { kind: 'cluster', target: target!, namespace, kubeconfig }, resource: resource!, output };
}

export interface ProxyConfigIo {
  out: (text: string) => void;
  err: (line: string) => void;
}

/** Fails the command with a message for the user (exit status 1). */
class Failure extends Error {}

export async function runProxyConfig(args: ProxyConfigArgs, io: ProxyConfigIo): Promise<number> {
  let config: DecodedProxyConfig;
  try {
    config = args.source.kind === 'file' ? readFile(args.source.path, io) : await readFromCluster(args.source, io);
  } catch (e) {
    if (!(e instanceof Failure)) throw e;
    io.err(`weftctl proxy-config: ${e.message}`);
    return 1;
  }
  io.out(render(config, args.resource, args.output));
  return 0;
}

function unpack(data: Uint8Array, where: string, expectedHash: string | undefined, io: ProxyConfigIo): DecodedProxyConfig {
  let unpacked;
  try {
    unpacked = unpackProxyConfig(data);
  } catch (e) {
    throw new Failure(`${where}: not a weft proxy config bundle (${(e as Error).message})`);
  }
  if (expectedHash !== undefined && expectedHash !== unpacked.hash) {
    io.err(`warning: ${where}: annotation ${CONFIG_HASH_ANNOTATION} is ${expectedHash} but the data hashes to ${unpacked.hash}`);
  }
  return unpacked.config;
}

function readFile(path: string, io: ProxyConfigIo): DecodedProxyConfig {
  let data: Buffer;
  try {
    data = readFileSync(path === '-' ? 0 : path);
  } catch (e) {
    throw new Failure((e as Error).message);
  }
  return unpack(data, path, undefined, io);
}

/** `kind/name` arguments: kinds whose objects name a workload directly, and those resolved through owners. */
const DIRECT: Record<string, string> = {
  deployment: 'Deployment', deployments: 'Deployment', deploy: 'Deployment',
  statefulset: 'StatefulSet', statefulsets: 'StatefulSet', sts: 'StatefulSet',
  daemonset: 'DaemonSet', daemonsets: 'DaemonSet', ds: 'DaemonSet',
  cronjob: 'CronJob', cronjobs: 'CronJob', cj: 'CronJob',
  replicationcontroller: 'ReplicationController', replicationcontrollers: 'ReplicationController', rc: 'ReplicationController',
  workload: 'workload',
};
const POD_WORDS = new Set(['pod', 'pods', 'po']);
type OwnerKind = 'ReplicaSet' | 'Job';
const VIA_OWNER: Record<string, OwnerKind> = {
  replicaset: 'ReplicaSet', replicasets: 'ReplicaSet', rs: 'ReplicaSet',
  job: 'Job', jobs: 'Job',
};

const enc = encodeURIComponent;
const OWNER_PATH: Record<OwnerKind, (ns: string, name: string) => string> = {
  ReplicaSet: (ns, n) => `/apis/apps/v1/namespaces/${enc(ns)}/replicasets/${enc(n)}`,
  Job: (ns, n) => `/apis/batch/v1/namespaces/${enc(ns)}/jobs/${enc(n)}`,
};

async function getOptional<T>(kc: KubeConfig, path: string): Promise<T | undefined> {
  try {
    return await getJson<T>(kc, path);
  } catch (e) {
    if (e instanceof KubeHttpError && e.statusCode === 404) return undefined;
    if (e instanceof KubeHttpError) throw new Failure(`GET ${path}: ${e.message}`);
    throw new Failure(`cannot reach the API server: ${(e as Error).message}`);
  }
}

/**
 * The workload whose ConfigMap configures `target`'s sidecar, named as the operator names it: a pod through its
 * owners (ReplicaSet → Deployment, Job → CronJob), a `kind/name` directly, a bare name as a pod if one exists,
 * else as the workload's own name.
 */
async function workloadName(kc: KubeConfig, namespace: string, target: string): Promise<string> {
  const slash = target.indexOf('/');
  const word = slash > 0 ? target.slice(0, slash).toLowerCase().replace(/\..*$/, '') : undefined;
  const name = slash > 0 ? target.slice(slash + 1) : target;
  if (!name) throw new Failure(`"${target}" names no object`);
  if (word !== undefined && DIRECT[word]) return name;
  const owner = word !== undefined ? VIA_OWNER[word] : undefined;
  if (word !== undefined && !owner && !POD_WORDS.has(word)) throw new Failure(`"${word}" is not a kind of workload (pod, deployment, statefulset, daemonset, job, cronjob, replicaset, replicationcontroller)`);
  if (owner) {
    const obj = await getOptional<KubeObject>(kc, OWNER_PATH[owner](namespace, name));
    if (!obj) throw new Failure(`${owner} ${namespace}/${name} not found`);
    // As for its pods: a ReplicaSet's Deployment, a Job's CronJob, else the object itself.
    const up = controllerOf(obj);
    return up && (up.kind === 'Deployment' || up.kind === 'CronJob') ? up.name : name;
  }
  const pod = await getOptional<KubeObject>(kc, `/api/v1/namespaces/${enc(namespace)}/pods/${enc(name)}`);
  if (!pod) {
    if (word !== undefined) throw new Failure(`pod ${namespace}/${name} not found`);
    return name; // not a pod: a workload's name
  }
  // podOwner goes up one more level (to the Deployment or CronJob) when it has the pod's own owner at hand.
  const ref = controllerOf(pod);
  const index: OwnerIndex = {};
  if (ref && (ref.kind === 'ReplicaSet' || ref.kind === 'Job')) {
    const obj = await getOptional<KubeObject>(kc, OWNER_PATH[ref.kind](namespace, ref.name));
    if (obj) index[ref.kind === 'ReplicaSet' ? 'replicaSets' : 'jobs'] = new Map([[`${namespace}/${ref.name}`, obj]]);
  }
  return podOwner(pod, index).name;
}

async function readFromCluster(
  source: { target: string; namespace?: string; kubeconfig?: string },
  io: ProxyConfigIo,
): Promise<DecodedProxyConfig> {
  const kc = new KubeConfig();
  try {
    if (source.kubeconfig) kc.loadFromFile(source.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new Failure(`cannot load kubeconfig: ${(e as Error).message}`);
  }
  const namespace = source.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const workload = await workloadName(kc, namespace, source.target);
  const cmName = proxyConfigMapName(workload);
  const cm = await getOptional<{ metadata?: { annotations?: Record<string, string> }; binaryData?: Record<string, string> }>(
    kc,
    `/api/v1/namespaces/${enc(namespace)}/configmaps/${enc(cmName)}`,
  );
  if (!cm) throw new Failure(`no proxy config for workload ${namespace}/${workload}: ConfigMap ${cmName} not found (is the namespace injected?)`);
  const data = cm.binaryData?.[PROXY_CONFIG_KEY];
  if (data === undefined) throw new Failure(`ConfigMap ${namespace}/${cmName} has no binaryData "${PROXY_CONFIG_KEY}"`);
  return unpack(Buffer.from(data, 'base64'), `ConfigMap ${namespace}/${cmName}`, cm.metadata?.annotations?.[CONFIG_HASH_ANNOTATION], io);
}

const TABLES = { listeners: listenersTable, routes: routesTable, clusters: clustersTable, endpoints: endpointsTable } as const;

export function render(config: DecodedProxyConfig, resource: ProxyResource, output: ProxyConfigArgs['output']): string {
  const data = resource === 'all' ? config : config[resource];
  if (output === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  if (output === 'yaml') return stringify(data, { aliasDuplicateObjects: false, lineWidth: 0 });
  if (resource !== 'all') return `${TABLES[resource](config[resource]).join('\n')}\n`;
  const w = config.workload;
  const head = `${w.kind} ${w.namespace}/${w.name}, service account ${w.serviceAccount || '-'}${config.version ? `, version ${config.version.slice(0, 12)}` : ''}`;
  const sections = (['listeners', 'routes', 'clusters', 'endpoints'] as const).map((k) => TABLES[k](config[k]).join('\n'));
  return `${[head, ...sections].join('\n\n')}\n`;
}
