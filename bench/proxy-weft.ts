// The weft sidecar under test. In: the app's port; out: translated configs written as kubelet-projected config
// dirs (`config.pb.gz` behind `..data`), identity dirs with certificates from a test CA, and running `weft proxy`
// processes with explicit listeners (no iptables), ready once their admin endpoint's /ready answers 200.
//   single: one sidecar whose outbound listener for the service `bench-app` (ClusterIP:8080) sends to the app.
//   pair:   a client sidecar (outbound, ISTIO_MUTUAL to the server) → the server's sidecar, whose inbound
//           listener (on the pod IP 127.0.0.2, the app's port) hands to the app on 127.0.0.1; with `security`, the
//           server workload's AuthorizationPolicies and RequestAuthentications are translated into its config too.
// The configs come from the real translation of a small mesh (test/support/mesh-fixtures.ts + translate()).
import { packProxyConfig } from '../src/controllers/proxy-bundle.ts';
import { INJECT_ANNOTATION } from '../src/model/injection.ts';
import { createRootCa } from '../src/pki/ca.ts';
import { spiffeId } from '../src/pki/spiffe.ts';
import { issueWorkloadCert } from '../src/pki/workload-cert.ts';
import { translate } from '../src/translate/index.ts';
import type { ProxyConfig } from '../src/translate/types.ts';
import { KubeletVolume } from '../test/support/kubelet-volume.ts';
import { app, clusterIPOf, destinationRule, namespace, snapshotOf } from '../test/support/mesh-fixtures.ts';
import { identityFiles } from '../test/support/proxy-bundles.ts';
import { SIDECAR_NODE_FLAGS } from '../src/proxy/node-flags.ts';
import { buildSidecar } from '../hack/build-image.ts';
import { type Proc, freePort, startProc, waitReady } from './proxy-procs.ts';

export const NS = 'bench';
export const SERVICE = 'bench-app';
export const SERVICE_PORT = 8080;
/** The Host header requests to the service carry (one of its virtual host's domains). */
export const SERVICE_HOST = `${SERVICE}.${NS}:${SERVICE_PORT}`;
export const SERVICE_IP = clusterIPOf(SERVICE, NS);
/** The server pod's IP in the pair: its sidecar's inbound listener binds it, the app stays on 127.0.0.1. */
export const SERVER_POD_IP = '127.0.0.2';
const CLIENT = 'bench-client';
/** The `weft` CLI the sidecars run: the compiled build (bench/proxy-build.ts); WEFT_BENCH_CLI points at another. */
let weftCli: string | undefined = process.env.WEFT_BENCH_CLI;

/** Builds (or reuses) the compiled sidecar once per bench run; says what runs. */
export function prepareSidecar(): { cli: string; cached?: boolean; build_ms?: number; node_flags: readonly string[] } {
  if (weftCli) return { cli: weftCli, node_flags: SIDECAR_NODE_FLAGS };
  const b = buildSidecar();
  weftCli = b.cli;
  return { ...b, node_flags: SIDECAR_NODE_FLAGS };
}

/** Policies for the server workload (bench/proxy-authz.ts), translated with the rest. */
export interface Security {
  authorizationPolicies: unknown[];
  requestAuthentications: unknown[];
}

/** The mesh: the app's service (pods at `podIp`, target port the app's), `extra` more services, and a client. */
function mesh(appPort: number, podIp: string, extra: number, mtls: boolean, security?: Security) {
  const ts = '2024-01-01T00:00:00Z';
  const strict = { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: NS, uid: 'uid-pa', creationTimestamp: ts }, spec: { mtls: { mode: 'STRICT' } } };
  return snapshotOf(
    // Without mTLS the app has no sidecar (opted out), so the client's automatic mTLS stays plaintext towards it.
    app(SERVICE, NS, { ports: [{ name: 'http', port: SERVICE_PORT, targetPort: appPort }], versions: { v1: [podIp] },
      ...(mtls ? {} : { podOptions: { annotations: { [INJECT_ANNOTATION]: 'false' } } }) }),
    app(CLIENT, NS, { port: 9000, versions: { v1: ['127.0.0.3'] } }),
    ...Array.from({ length: extra }, (_, i) => app(`svc-${i}`, NS, { port: SERVICE_PORT, versions: { v1: [`10.20.${i >> 8}.${(i & 255) + 1}`, `10.21.${i >> 8}.${(i & 255) + 1}`] } })),
    {
      namespaces: [namespace(NS, { 'weft-injection': 'enabled' })],
      config: mtls
        ? { destinationRules: [destinationRule(SERVICE, NS, { host: SERVICE, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } })], peerAuthentications: [strict as never],
          ...(security ? { authorizationPolicies: security.authorizationPolicies as never[], requestAuthentications: security.requestAuthentications as never[] } : {}) }
        : {},
    },
  );
}

function workloadConfig(snap: ReturnType<typeof mesh>, prefix: string): ProxyConfig {
  const w = snap.workloads.find((x) => x.name.startsWith(prefix));
  if (!w) throw new Error(`no workload ${prefix}`);
  return translate(w, snap);
}

/** The client's config: the outbound side towards `bench-app` (and `services - 1` more services). */
export function clientConfig(appPort: number, services = 1): ProxyConfig {
  return workloadConfig(mesh(appPort, '127.0.0.1', services - 1, false), CLIENT);
}

export interface PairConfigs {
  client: ProxyConfig;
  server: ProxyConfig;
  /** Whether the server's inbound listener terminates TLS for the app's port (the translation's STRICT chain). */
  mtls: boolean;
}

/** The pair's configs; `podIp` is the server pod's address (its inbound listener), `security` its policies. */
export function pairConfigs(appPort: number, o: { podIp?: string; security?: Security } = {}): PairConfigs {
  const snap = mesh(appPort, o.podIp ?? SERVER_POD_IP, 0, true, o.security);
  const server = workloadConfig(snap, `${SERVICE}-`);
  const inbound = server.listeners.find((l) => l.name === 'virtualInbound') as { filterChains?: Array<{ filterChainMatch?: { destinationPort?: { value?: number } }; transportSocket?: unknown }> } | undefined;
  const mtls = (inbound?.filterChains ?? []).some((fc) => fc.filterChainMatch?.destinationPort?.value === appPort && fc.transportSocket !== undefined);
  return { client: workloadConfig(snap, CLIENT), server, mtls };
}

export function writeConfigDir(dir: string, pc: ProxyConfig): void {
  new KubeletVolume(dir).write({ 'config.pb.gz': packProxyConfig(pc).gzipped });
}

/** Identity dirs for the client and the server workload, issued by one fresh CA. */
export async function writeIdentityDirs(clientDir: string, serverDir: string): Promise<void> {
  const ca = await createRootCa();
  for (const [dir, sa] of [[clientDir, CLIENT], [serverDir, SERVICE]] as const) {
    const c = await issueWorkloadCert(ca, spiffeId('cluster.local', NS, sa));
    new KubeletVolume(dir).write(identityFiles(c));
  }
}

export interface SidecarOptions {
  name: string;
  configDir: string;
  identityDir: string;
  /** `--explicit` values: `<bind-ip>:<bind-port>=<outbound|inbound>:<dst-ip>:<dst-port>`. */
  explicit: string[];
  /** A directory for `--cpu-prof` output, when profiling. */
  cpuProfDir?: string;
}

export interface Sidecar {
  proc: Proc;
  admin: string;
}

export async function startSidecar(o: SidecarOptions): Promise<Sidecar> {
  const adminPort = await freePort();
  const node = [...SIDECAR_NODE_FLAGS, ...(o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : [])];
  const args = [...node, prepareSidecar().cli, 'proxy', '--config-dir', o.configDir, '--identity-dir', o.identityDir, '--capture', 'none',
    '--admin', `127.0.0.1:${adminPort}`, ...o.explicit.flatMap((e) => ['--explicit', e]), '--access-log', 'off', '--drain-timeout', '1s'];
  const proc = startProc(o.name, process.execPath, args);
  proc.child.stdout!.resume();
  const admin = `http://127.0.0.1:${adminPort}`;
  try {
    await waitReady(proc, `${admin}/ready`, 15_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { proc, admin };
}
