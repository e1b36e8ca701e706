// What the security suite does with a tier's cluster: requests from the curl pod in foo (through its sidecar), TCP
// lines like `echo … | nc`, requests from outside through the ingress gateway, polling until a policy change shows
// (an error names the last answer seen), a sidecar's metrics and logs, and RS256 JWTs signed with keys made per run.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import type { MeshTarget } from '../support/e2e-target.ts';

export interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  error?: string;
}

/** One request from the curl pod (container curl) of `ns`: it leaves through that pod's sidecar. */
export async function curlFrom(t: MeshTarget, ns: string, pod: string, url: string, o: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const argv = ['node', 'examples/apps/curl.ts', 'http', url, '-X', o.method ?? 'GET'];
  for (const [k, v] of Object.entries(o.headers ?? {})) argv.push('-H', `${k}: ${v}`);
  const r = await t.exec(ns, pod, 'curl', argv, 30_000);
  if (r.code !== 0) throw new Error(`curl in ${ns}/${pod} exited ${r.code}: ${r.stderr.slice(0, 500)}`);
  return (JSON.parse(r.stdout) as { results: Answer[] }).results[0]!;
}

/** `echo <message> | nc <host> <port>` from the curl pod: the reply, "" when closed without one, or the error. */
export async function ncFrom(t: MeshTarget, ns: string, pod: string, host: string, port: number, message: string): Promise<{ reply?: string; error?: string }> {
  const r = await t.exec(ns, pod, 'curl', ['node', 'examples/apps/curl.ts', 'tcp', host, String(port), message], 30_000);
  if (r.code !== 0) throw new Error(`curl tcp in ${ns}/${pod} exited ${r.code}: ${r.stderr.slice(0, 500)}`);
  return JSON.parse(r.stdout) as { reply?: string; error?: string };
}

/** A request from outside the mesh (this machine) to the ingress gateway at `ip`, port 80. */
export function edge(ip: string, host: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: ip, port: 80, path, headers: { host, ...headers }, timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers as Record<string, string>, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => resolve({ error: e.message }));
    req.end();
  });
}

/**
 * Polls `get` (every second) until `ok` holds for its answer, which it returns: a policy change takes a moment to
 * reach the sidecars (`times` answers in a row, for a service with several replicas, e.g. the ingress gateway). On
 * timeout the error names what was awaited and the last answer.
 */
export async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 90_000, times = 1): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | { thrown: string } | undefined;
  let seen = 0;
  for (;;) {
    try {
      const v = await get();
      last = v;
      seen = ok(v) ? seen + 1 : 0;
      if (seen >= times) return v;
      if (seen > 0) continue;
    } catch (e) {
      last = { thrown: (e as Error).message };
      seen = 0;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs / 1000} s; last answer: ${JSON.stringify(last).slice(0, 1500)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function kubectlOk(t: MeshTarget, args: string[], input?: string): Promise<string> {
  const r = await t.kubectl(args, input);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A container's log: the local node's log file, or `kubectl logs` elsewhere. */
export async function containerLog(t: MeshTarget, ns: string, pod: string, container: string): Promise<string> {
  const file = t.local?.node.pod(ns, pod)?.logFile(container);
  if (file) return readFileSync(file, 'utf8');
  return kubectlOk(t, ['logs', '-n', ns, pod, '-c', container]);
}

/**
 * A sidecar's Prometheus metrics (port 15090): from the node on the local cluster, elsewhere through the API
 * server's pod proxy (the whole page: it outgrows what the sample curl prints of a body).
 */
export async function sidecarMetrics(t: MeshTarget, ns: string, pod: { name: string; ip: string }): Promise<string> {
  if (t.local) return (await t.local.node.agent.http({ url: `http://${pod.ip}:15090/stats/prometheus`, timeoutMs: 5000 })).body;
  return kubectlOk(t, ['get', '--raw', `/api/v1/namespaces/${ns}/pods/${pod.name}:15090/proxy/stats/prometheus`]);
}

export interface Signer {
  /** The JWKS document (`{"keys":[…]}`) with the public key. */
  jwks: string;
  sign(claims: Record<string, unknown>): Promise<string>;
}

/** An RSA key (RS256, as the pages' key) with its JWKS and a signer. */
export async function rsaSigner(kid: string): Promise<Signer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return {
    jwks: JSON.stringify({ keys: [jwk] }),
    sign: (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(privateKey),
  };
}
