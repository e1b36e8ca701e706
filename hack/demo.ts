// `npm run demo [-- --exit]`: the whole of weft on a local cluster. Starts etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler (real binaries, built once and cached) and two real nodes (kubelet,
// containerd, kube-proxy in network namespaces, CoreDNS), imports weft's images (built locally, no registry) and
// installs weft from config/ as a user does: the operator and the admission webhook run as Deployments. Then it deploys the bookinfo sample from examples/ into a namespace labelled for injection, sends
// traffic through the sidecars and shows the canary split it observed, the SPIFFE identity on each hop, the status
// conditions, the per-workload config, a broken reference and an invalid resource refused at admission. It stays
// up with a kubeconfig for kubectl until Ctrl-C (or tears down at once with --exit).
import { X509Certificate } from 'node:crypto';
import { rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startKubeMesh, type KubeMesh } from './local-cluster/kube-mesh.ts';
import { waitFor } from './local-cluster/processes.ts';

const root = resolve(import.meta.dirname, '..');
const { values: flags } = parseArgs({ options: { exit: { type: 'boolean', default: false } } });
const dir = join(process.env.WEFT_CACHE ?? join(homedir(), '.cache/weft'), 'demo');
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (s: string) => console.log(`\n${bold(`==> ${s}`)}`);
const show = (s: string) => console.log(s.replace(/\n$/, '').replace(/^/gm, '    '));
const NS = 'bookinfo';

let mesh: KubeMesh | undefined;

async function shutdown(code: number): Promise<never> {
  await mesh?.stop({ keepDir: true });
  process.exit(code);
}

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await mesh!.kubectl(args, input);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

function weftctl(args: string[]): Promise<string> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(root, 'src/cli/weftctl.ts'), ...args, '--kubeconfig', mesh!.kubeconfig]);
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    child.stderr.on('data', (b: Buffer) => (out += b));
    child.on('close', () => done(out));
  });
}

const until = (what: string, check: () => Promise<boolean>): Promise<void> => waitFor(`waiting for ${what}`, check, 120_000);

interface Answer {
  status?: number;
  body?: { pod?: string; peer?: string; reviews?: { version?: string; pod?: string; peer?: string; ratings?: { peer?: string; pod?: string } } };
}

async function fromClient(url: string, n: number, headers: string[] = []): Promise<Answer[]> {
  const client = (await kubectl(['get', 'pods', '-n', NS, '-l', 'app=client', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
  const args = ['node', 'examples/apps/client.ts', 'fetch', url, '--n', String(n), '--concurrency', '4', ...headers.flatMap((h) => ['--header', h])];
  const r = await mesh!.kubectl(['exec', '-n', NS, client, '-c', 'client', '--', ...args], undefined, 120_000);
  if (r.status !== 0) throw new Error(`client fetch: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { results: Answer[] }).results;
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  rmSync(dir, { recursive: true, force: true });

  step('Starting a local cluster: the control plane, two real nodes, and weft installed from config/');
  mesh = await startKubeMesh({ dir, log: (l) => show(l) });
  show(await kubectl(['get', 'nodes', '-o', 'wide']));
  show(await kubectl(['get', 'pods', '-n', 'weft-system', '-o', 'wide']));

  step('Applying the bookinfo sample: plain Istio YAML from examples/bookinfo (namespace labelled weft-injection=enabled)');
  show(await kubectl(['apply', '-f', join(root, 'examples/bookinfo')]));

  step('Pods start with an injected sidecar (weft-init sets up iptables, weft-proxy runs as a native sidecar)');
  await until('every bookinfo pod Ready', async () => {
    const out = await kubectl(['get', 'pods', '-n', NS, '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}']);
    const lines = out.trim().split('\n').filter(Boolean);
    return lines.length >= 7 && lines.every((l) => l === 'True');
  });
  show(await kubectl(['get', 'pods', '-n', NS, '-o', 'wide']));
  show(await kubectl(['get', 'endpointslices', '-n', NS]));

  step('Traffic: 200 requests from the client pod to productpage, which calls details and reviews (reviews v2/v3 call ratings)');
  const answers = await fromClient('http://productpage:9080/api/v1/products/0', 200);
  const versions: Record<string, number> = {};
  for (const a of answers) {
    const v = a.status === 200 ? (a.body?.reviews?.version ?? 'reviews failed') : `status ${a.status ?? 'error'}`;
    versions[v] = (versions[v] ?? 0) + 1;
  }
  show(`reviews versions seen (VirtualService reviews: v1 90%, v2 10%): ${JSON.stringify(versions)}`);
  const sample = answers.find((a) => a.body?.reviews?.ratings?.peer) ?? answers[0]!;
  show([
    'SPIFFE identity of the caller, as each server saw it (x-forwarded-client-cert from the sidecar, mTLS):',
    `  client      → productpage (${sample.body?.pod}): ${sample.body?.peer}`,
    `  productpage → reviews (${sample.body?.reviews?.pod}): ${sample.body?.reviews?.peer}`,
    sample.body?.reviews?.ratings?.peer ? `  reviews     → ratings (${sample.body.reviews.ratings.pod}): ${sample.body.reviews.ratings.peer}` : '',
  ].filter(Boolean).join('\n'));
  const jason = await fromClient('http://productpage:9080/api/v1/products/0', 20, ['end-user:jason']);
  show(`with end-user: jason (header route to v3): ${JSON.stringify(jason.map((a) => a.body?.reviews?.version).reduce<Record<string, number>>((m, v) => ((m[String(v)] = (m[String(v)] ?? 0) + 1), m), {}))}`);
  const productpage = (await kubectl(['get', 'pods', '-n', NS, '-l', 'app=productpage', '-o', 'jsonpath={.items[0].status.podIP}'])).trim();
  const plain = await fetch(`http://${productpage}:9080/api/v1/products/0`, { signal: AbortSignal.timeout(3000) })
    .then((r) => `answered ${r.status}`, (e: Error & { cause?: Error }) => `refused (${e.cause?.message ?? e.message})`);
  show(`a plaintext request from this machine, without a sidecar, to productpage's pod (PeerAuthentication STRICT): ${plain}`);

  step('Into the mesh from this machine: the ingress gateway (config/ weft-ingressgateway, Gateway bookinfo-gateway)');
  let ingress = '';
  await until('the ingress gateway address', async () => {
    ingress = await kubectl(['get', 'service', 'weft-ingressgateway', '-n', 'weft-system', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']);
    return ingress.length > 0;
  });
  await until('the gateway to serve /productpage', async () => (await fetch(`http://${ingress}/productpage`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined))?.status === 200);
  const viaGateway = (await (await fetch(`http://${ingress}/api/v1/products/0`)).json()) as Answer['body'];
  show([
    `curl http://${ingress}/productpage   (a LoadBalancer Service: its address is routed from this machine to a node's kube-proxy)`,
    `  answered by ${viaGateway?.pod}, which saw the caller ${viaGateway?.peer} (the gateway's own identity, mTLS)`,
  ].join('\n'));

  step('Status conditions written by weft');
  show(await kubectl([
    'get', 'vs,dr,gw,se,pa,ap,ra', '-n', NS, '-o',
    'custom-columns=KIND:.kind,NAME:.metadata.name,GEN:.metadata.generation,OBSERVED:.status.conditions[0].observedGeneration,' +
      'ACCEPTED:.status.conditions[?(@.type=="Accepted")].status,RESOLVED-REFS:.status.conditions[?(@.type=="ResolvedRefs")].status,' +
      'PROGRAMMED:.status.conditions[?(@.type=="Programmed")].message',
  ]));

  step('Per-workload proxy config: one ConfigMap per workload, Envoy resources encoded and gzipped');
  show(await kubectl(['get', 'configmaps', '-n', NS, '-l', 'app.kubernetes.io/managed-by=weft',
    '-o', 'custom-columns=NAME:.metadata.name,OWNER:.metadata.ownerReferences[0].kind,HASH:.metadata.annotations.weft\\.dev/config-hash']));
  step('What the reviews canary compiles to (weftctl proxy-config, like istioctl proxy-config)');
  show(await weftctl(['proxy-config', 'deployment/productpage-v1', 'routes', '-n', NS]));

  step('Workload identities from the mesh CA: Secret weft-identity-<serviceaccount>, trust bundle weft-root-cert');
  for (const sa of ['bookinfo-productpage', 'bookinfo-reviews']) {
    const pem = Buffer.from(await kubectl(['get', 'secret', `weft-identity-${sa}`, '-n', NS, '-o', 'jsonpath={.data.cert-chain\\.pem}']), 'base64').toString();
    const cert = new X509Certificate(pem);
    show(`weft-identity-${sa}: ${cert.subjectAltName}, valid until ${cert.validTo}`);
  }

  step('A broken reference: VirtualService details-canary names a Gateway that does not exist');
  show(await kubectl(['get', 'vs', 'details-canary', '-n', NS, '-o', 'jsonpath={range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\\n"}{end}']));
  step('Messages weft found (status.validationMessages, with Istio analyzer codes)');
  show((await kubectl([
    'get', 'vs,dr,gw,se,pa,ap,ra', '-n', NS, '-o',
    'jsonpath={range .items[*]}{range .status.validationMessages[*]}{.level} {.type.code} {.field}: {.message}{"\\n"}{end}{end}',
  ])) || '(none)');

  step('An invalid resource is refused at admission, with the field named (examples/invalid)');
  const refused = await mesh.kubectl(['apply', '-f', join(root, 'examples/invalid')]);
  show(refused.status === 0 ? `unexpectedly accepted:\n${refused.stdout}` : refused.stderr);

  step('weft is running');
  show([
    `kubeconfig: ${mesh.kubeconfig}`,
    `kubectl:    ${mesh.kubectlBin}`,
    `try:        KUBECONFIG=${mesh.kubeconfig} ${mesh.kubectlBin} get pods,vs -n ${NS}`,
    `            KUBECONFIG=${mesh.kubeconfig} ${mesh.kubectlBin} logs -n ${NS} deploy/productpage-v1 -c weft-proxy`,
    `            curl http://${ingress}/productpage`,
    `logs:       control plane and nodes in ${dir}/`,
  ].join('\n'));
  if (flags.exit) {
    step('--exit: tearing down');
    await shutdown(0);
  }
  show('Press Ctrl-C to stop.');
}

main().catch(async (e: Error) => {
  console.error(`demo failed: ${e.stack ?? e.message}`);
  await shutdown(1);
});
