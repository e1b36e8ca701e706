// The `pki` bench: workload certificate issuing in process, no API server. Measured: issuances per second — a
// fresh ECDSA P-256 key, a leaf signed by the mesh CA with the SPIFFE URI SAN, exported as PEM, as the identity
// controller does for each service account — one at a time and eight at a time (the controller's workers: key
// generation and signing run in node:crypto's thread pool), against a baseline in the same run: raw ECDSA P-256
// signatures per second from node:crypto, and the ratio. Then the mTLS handshake between two sidecars through
// their own TLS code (bench/pki-mtls.ts): latency of full handshakes, each on a new connection, and the rate.
import { generateKeyPairSync, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createRootCa } from '../src/pki/ca.ts';
import { spiffeId } from '../src/pki/spiffe.ts';
import { issueWorkloadCert } from '../src/pki/workload-cert.ts';
import { mtlsHandshakes } from './pki-mtls.ts';

const N = 2_000;
const WORKERS = 8;
const BASELINE_SIGNS = 20_000;
const HANDSHAKES = 500;
const HANDSHAKE_CONCURRENCY = 4;

async function issueRate(ca: Awaited<ReturnType<typeof createRootCa>>, n: number, workers: number): Promise<number> {
  let next = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < n) {
        const i = next++;
        await issueWorkloadCert(ca, spiffeId('cluster.local', `ns-${i % 50}`, `sa-${i}`));
      }
    }),
  );
  return n / ((performance.now() - t) / 1000);
}

function signRate(n: number): number {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = Buffer.alloc(512, 7); // about the size of a leaf's to-be-signed part
  const t = performance.now();
  for (let i = 0; i < n; i++) sign('sha256', data, privateKey);
  return n / ((performance.now() - t) / 1000);
}

export async function runPkiBench(log: (line: string) => void): Promise<Record<string, unknown>> {
  const ca = await createRootCa();
  await issueRate(ca, 50, 1); // warm-up: JIT and the crypto provider
  log(`issuing ${N} workload certificates, one at a time`);
  const sequential = await issueRate(ca, N, 1);
  log(`issuing ${N} workload certificates, ${WORKERS} at a time`);
  const concurrent = await issueRate(ca, N, WORKERS);
  log(`baseline: ${BASELINE_SIGNS} raw ECDSA P-256 signatures`);
  const baseline = signRate(BASELINE_SIGNS);
  log(`${HANDSHAKES} mTLS handshakes through the sidecar's client and server TLS contexts, new connection each`);
  const hs = await mtlsHandshakes(HANDSHAKES, HANDSHAKE_CONCURRENCY);
  const r = (x: number) => Math.round(x);
  return {
    certificates: N,
    issuances_per_s: r(concurrent),
    issuances_per_s_sequential: r(sequential),
    workers: WORKERS,
    baseline_ecdsa_p256_signs_per_s: r(baseline),
    // An issuance is at least a key generation and a signature, so well under 1 is expected.
    ratio_to_baseline: Math.round((concurrent / baseline) * 1000) / 1000,
    goal_issuances_per_s: 500,
    // Both peers run in the bench process: a handshake's time and rate include the client's and the server's CPU.
    mtls_handshake_ms: { p50: hs.p50_ms, p90: hs.p90_ms },
    mtls_handshakes_per_s: hs.per_s_sequential,
    // New upstream connections resume the host's last session: no certificates exchanged, signed or verified.
    mtls_resumed_handshake_ms: { p50: hs.resumed_p50_ms, p90: hs.resumed_p90_ms },
    mtls_resumed: hs.resumed,
    mtls_handshakes_per_s_concurrent: hs.per_s_concurrent,
    mtls_handshake_concurrency: hs.concurrency,
    mtls_handshakes: hs.handshakes,
    mtls_handshake_failures: hs.failures,
  };
}
