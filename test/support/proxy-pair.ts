// Two sidecars in one process, for mTLS pair tests: real translate() output for a small mesh (a client workload
// and a server workload `web` whose pod is 127.0.0.2), identities from a real CA in kubelet-style volumes, and
// `startSidecar` with the real parts. The client gets an explicit outbound listener for the service's ClusterIP,
// the server an explicit inbound listener at its pod IP for each app port; its apps listen on 127.0.0.1.
// The service ports are named `web`/`web2`: protocol UNKNOWN, so the server tells HTTP from TCP by ALPN/sniffing.
import type { AddressInfo } from 'node:net';
import { packProxyConfig } from '../../src/controllers/proxy-bundle.ts';
import { createLogger, silentLogger } from '../../src/controllers/log.ts';
import { formatSpiffeId, spiffeId } from '../../src/pki/spiffe.ts';
import { issueWorkloadCert } from '../../src/pki/workload-cert.ts';
import type { WorkloadCert } from '../../src/pki/workload-cert.ts';
import { createRootCa } from '../../src/pki/ca.ts';
import type { MeshCa } from '../../src/pki/ca.ts';
import { defaultParts } from '../../src/proxy/sidecar-parts.ts';
import { startSidecar } from '../../src/proxy/sidecar.ts';
import type { ExplicitListener } from '../../src/proxy/net/listeners.ts';
import type { Sidecar } from '../../src/proxy/sidecar.ts';
import { translate } from '../../src/translate/index.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import type { DestinationRuleSpec } from '../../src/api/destinationrule.ts';
import type { VirtualServiceSpec } from '../../src/api/virtualservice.ts';
import { KubeletVolume } from './kubelet-volume.ts';
import { identityFiles } from './proxy-bundles.ts';
import { app, clusterIPOf, destinationRule, endpointSlice, namespace, peerAuthentication, service, snapshotOf, virtualService } from './mesh-fixtures.ts';

export const NS = 'shop';
export const SERVER_POD_IP = '127.0.0.2';
export const CLIENT_POD_IP = '127.0.0.3';
export const WEB_PORT = 8080;
export const WEB2_PORT = 8081;
export const WEB_IP = clusterIPOf('web', NS);
export const CLIENT_ID = formatSpiffeId(spiffeId('cluster.local', NS, 'client'));
export const SERVER_ID = formatSpiffeId(spiffeId('cluster.local', NS, 'web'));

export interface PairMesh {
  mode: 'STRICT' | 'PERMISSIVE';
  /** The server's two app ports (127.0.0.1), targets of the services `web` (8080) and `web2` (8081). */
  appPorts: [number, number];
  /** A VirtualService for host `web` (e.g. weights between `web` and `web2`). */
  webRoute?: VirtualServiceSpec;
  /** A DestinationRule's traffic policy for host `web` (e.g. h2UpgradePolicy). */
  webPolicy?: DestinationRuleSpec['trafficPolicy'];
  /** The name of `web`'s port (default `web`: protocol UNKNOWN; `http` declares HTTP). */
  webPortName?: string;
}

function snapshot(m: PairMesh) {
  const [pa, pb] = m.appPorts;
  const web = app('web', NS, { ports: [{ name: m.webPortName ?? 'web', port: WEB_PORT, targetPort: pa }], versions: { v1: [SERVER_POD_IP] } });
  const podName = web.pods![0]!.metadata!.name!;
  return snapshotOf(
    web,
    // A second service on another port of the same pod.
    {
      services: [service('web2', NS, { ports: [{ name: 'web', port: WEB2_PORT, targetPort: pb }], selector: { app: 'web' } })],
      endpointSlices: [endpointSlice('web2', NS, [{ ip: SERVER_POD_IP, pod: podName }], { web: pb })],
    },
    app('client', NS, { port: 9000, versions: { v1: [CLIENT_POD_IP] } }),
    {
      namespaces: [namespace(NS, { 'weft-injection': 'enabled' })],
      config: {
        peerAuthentications: [peerAuthentication('default', NS, { mtls: { mode: m.mode } })],
        virtualServices: m.webRoute ? [virtualService('web', NS, m.webRoute)] : [],
        destinationRules: m.webPolicy ? [destinationRule('web', NS, { host: 'web', trafficPolicy: m.webPolicy })] : [],
      },
    },
  );
}

export function pairConfigs(m: PairMesh): { client: ProxyConfig; server: ProxyConfig } {
  const snap = snapshot(m);
  const w = (name: string) => {
    const x = snap.workload(NS, name);
    if (!x) throw new Error(`no workload ${name}`);
    return translate(x, snap);
  };
  return { client: w('client-v1'), server: w('web-v1') };
}

let ca: Promise<MeshCa> | undefined;
export const pairCa = (): Promise<MeshCa> => (ca ??= createRootCa());
export async function identity(sa: string, from?: MeshCa): Promise<WorkloadCert> {
  return issueWorkloadCert(from ?? await pairCa(), spiffeId('cluster.local', NS, sa));
}

export interface RunningSidecar {
  sidecar: Sidecar;
  config: KubeletVolume;
  identity: KubeletVolume;
  /** The explicit listener's port (the first one). */
  port: number;
  /** Prometheus text of its metrics. */
  metrics(): string;
  /** Access log lines (JSON). */
  accessLog: string[];
  stop(): Promise<void>;
}

const debug = process.env.DEBUG_SIDECAR !== undefined;

export async function runSidecar(pc: ProxyConfig, id: WorkloadCert, explicit: ExplicitListener[]): Promise<RunningSidecar> {
  const config = new KubeletVolume();
  const ident = new KubeletVolume();
  config.write({ 'config.pb.gz': packProxyConfig(pc).gzipped });
  ident.write(identityFiles(id));
  const accessLog: string[] = [];
  const sidecar = await startSidecar({
    configDir: config.dir,
    identityDir: ident.dir,
    admin: { host: '127.0.0.1', port: 0 },
    listeners: { capture: 'none', outboundPort: 15001, inboundPort: 15006, gateway: false, explicit },
    drainTimeoutMs: 500,
    accessLog: (chunk) => accessLog.push(...chunk.split('\n').filter((l) => l.length > 0)),
    log: debug ? createLogger('pair', { level: 'debug' }) : silentLogger,
    parts: defaultParts(debug ? createLogger('net', { level: 'debug' }) : undefined),
    pollMs: 20,
  });
  await sidecar.ready();
  const port = sidecar.listeners().find((l) => l.name.startsWith('explicit'))!.port;
  return {
    sidecar, config, identity: ident, port, accessLog,
    metrics: () => sidecar.telemetry.render(),
    stop: async () => {
      await sidecar.shutdown('test cleanup');
      config.remove();
      ident.remove();
    },
  };
}

/** The client's outbound listener (to web's ClusterIP) on 127.0.0.1, a port of the system's choice. */
export const clientListener = (port = WEB_PORT): ExplicitListener =>
  ({ bindHost: '127.0.0.1', bindPort: 0, direction: 'outbound', destinationIp: WEB_IP, destinationPort: port });

/** The server's inbound listener for one app port, at the pod IP. */
export const serverListener = (appPort: number): ExplicitListener =>
  ({ bindHost: SERVER_POD_IP, bindPort: appPort, direction: 'inbound', destinationIp: SERVER_POD_IP, destinationPort: appPort });

export const portOf = (s: { address(): AddressInfo | string | null }): number => (s.address() as AddressInfo).port;
