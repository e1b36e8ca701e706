// What an mTLS handshake between two sidecars costs, through the sidecar's own code: the client side is the
// upstream connector (ISTIO_MUTUAL transport socket of a translated outbound cluster, its secure context cache,
// SAN check), the server side the inbound listener's termination (the translated STRICT chain's
// DownstreamTlsContext, client certificate required and verified, peer SPIFFE id read). Identities come from a
// fresh mesh CA. Each handshake is a new TCP connection on loopback, timed from connect until both sides are done;
// both sides run in this one process, so a handshake's CPU is both peers' (sign + verify on each side).
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { buildDownstreamTls, terminateTls } from '../src/proxy/net/downstream-tls.ts';
import type { FileSource } from '../src/proxy/runtime.ts';
import { openSocket } from '../src/proxy/upstream/connector.ts';
import { createContexts, targetFor } from '../src/proxy/upstream/pools.ts';
import type { HostLink, LinkDeps } from '../src/proxy/upstream/pools.ts';
import { transportSpec } from '../src/proxy/upstream/tls.ts';
import { createRootCa } from '../src/pki/ca.ts';
import { spiffeId } from '../src/pki/spiffe.ts';
import { issueWorkloadCert } from '../src/pki/workload-cert.ts';
import type { WorkloadCert } from '../src/pki/workload-cert.ts';
import { ROOT_CERT, WORKLOAD_CERT_CHAIN, WORKLOAD_KEY } from '../src/translate/identity-files.ts';
import { NS, pairConfigs } from './proxy-weft.ts';

type Obj = Record<string, unknown>;

const files = (c: WorkloadCert): FileSource => {
  const m: Record<string, string> = { [WORKLOAD_CERT_CHAIN]: c.certChainPem, [WORKLOAD_KEY]: c.keyPem, [ROOT_CERT]: c.rootCertPem };
  return { read: (p) => m[p] };
};

/** The translated contexts: the server's inbound mTLS chain for the app port, the client's cluster to it. */
function contexts(appPort: number): { downstream: Obj; upstreamSocket: unknown } {
  const pc = pairConfigs(appPort);
  const inbound = pc.server.listeners.find((l) => l.name === 'virtualInbound') as { filterChains: Obj[] } | undefined;
  const chain = inbound?.filterChains.find((fc) => (fc.filterChainMatch as Obj | undefined)?.destinationPort !== undefined
    && ((fc.filterChainMatch as { destinationPort: { value: number } }).destinationPort.value === appPort) && fc.transportSocket);
  const downstream = (chain?.transportSocket as { typedConfig?: Obj } | undefined)?.typedConfig;
  const cluster = pc.client.clusters.find((c) => String(c.name).startsWith('outbound|8080||bench-app')) as Obj | undefined;
  if (!downstream || !cluster?.transportSocket) throw new Error('the translated pair has no mTLS contexts');
  return { downstream, upstreamSocket: cluster.transportSocket };
}

export interface HandshakeResult {
  p50_ms: number;
  p90_ms: number;
  /** Handshakes resuming the host's last session (the sidecar's upstream does so for new connections). */
  resumed_p50_ms: number;
  resumed_p90_ms: number;
  /** How many of the resumed round's handshakes the server really resumed. */
  resumed: number;
  /** Sequential handshakes per second (one at a time, both peers in this process). */
  per_s_sequential: number;
  /** Handshakes per second with `concurrency` in flight. */
  per_s_concurrent: number;
  concurrency: number;
  handshakes: number;
  failures: number;
}

export async function mtlsHandshakes(n: number, concurrency: number): Promise<HandshakeResult> {
  const ca = await createRootCa();
  const server = await issueWorkloadCert(ca, spiffeId('cluster.local', NS, 'bench-app'));
  const client = await issueWorkloadCert(ca, spiffeId('cluster.local', NS, 'bench-client'));
  const net = createServer({ noDelay: true });
  await new Promise<void>((r) => net.listen(0, '127.0.0.2', r));
  const port = (net.address() as AddressInfo).port;
  const { downstream, upstreamSocket } = contexts(port);
  const dtls = buildDownstreamTls(downstream, files(server));
  const serverDone: Array<(ok: boolean) => void> = [];
  let failures = 0;
  net.on('connection', (socket: Socket) => {
    const done = serverDone.shift();
    void terminateTls(socket, dtls).then((t) => {
      // Kept open until the client closes, as an inbound connection is: the session tickets follow the handshake.
      if (t.kind === 'ok') {
        t.socket.on('end', () => t.socket.destroy());
        t.socket.resume();
      }
      done?.(t.kind === 'ok' && t.peerPrincipal !== undefined);
    });
  });
  const link: HostLink = { host: '127.0.0.2', port, spec: transportSpec(upstreamSocket) };
  const clientFiles = files(client);
  const deps: LinkDeps = {
    settings: () => ({ protocol: 'http1', maxConcurrentStreams: 100, connectTimeoutMs: 5000, bind: {}, autoSni: false, autoSanValidation: false, key: '' }),
    files: () => clientFiles,
    contexts: createContexts(),
  };
  let resumed = 0;
  /** One handshake on a new connection; `resume` keeps the session the previous one left on the link. */
  const one = async (resume = false): Promise<number> => {
    if (!resume) link.tlsSession = undefined;
    const t = performance.now();
    const accepted = new Promise<boolean>((r) => serverDone.push(r));
    const socket = await openSocket(targetFor(link, deps, 'http1'));
    const ok = await accepted;
    const ms = performance.now() - t;
    if ((socket as TLSSocket).isSessionReused()) resumed++;
    socket.on('error', () => {});
    // The session tickets follow the server's last handshake message: wait (briefly) for this connection's.
    if (resume) {
      const before = link.tlsSession;
      for (let i = 0; i < 20 && link.tlsSession === before; i++) await new Promise((r) => setTimeout(r, 1));
    }
    socket.end();
    if (!ok || !link.principal) failures++;
    return ms;
  };
  try {
    for (let i = 0; i < 30; i++) await one(); // warm-up: JIT, context cache
    const times: number[] = [];
    resumed = 0;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) times.push(await one());
    const seqS = (performance.now() - t0) / 1000;
    let left = n;
    const t1 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await one();
    }));
    const concS = (performance.now() - t1) / 1000;
    await one(true);
    resumed = 0;
    const again: number[] = [];
    for (let i = 0; i < n; i++) again.push(await one(true));
    const at = (xs: number[], q: number) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 1000) / 1000;
    };
    return {
      p50_ms: at(times, 0.5), p90_ms: at(times, 0.9),
      resumed_p50_ms: at(again, 0.5), resumed_p90_ms: at(again, 0.9), resumed,
      per_s_sequential: Math.round(n / seqS), per_s_concurrent: Math.round(n / concS), concurrency,
      handshakes: n, failures,
    };
  } finally {
    net.close();
  }
}
