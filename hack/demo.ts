// `npm run demo [-- --exit]`: the whole of weft on a local control plane. Starts etcd, kube-apiserver and
// kube-controller-manager (real binaries, built once and cached), installs the CRDs and config/ (RBAC, webhook),
// runs the operator as its own ServiceAccount, applies the bookinfo sample from examples/, and shows what weft
// makes of it: status conditions, per-workload proxy config, workload identities, a broken reference, an invalid
// resource refused at admission. Then it stays
// up with a kubeconfig for kubectl, until Ctrl-C (or at once with --exit).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { ControlPlane } from './local-cluster/control-plane.ts';
import { installCrds, serviceAccountKubeConfig } from './local-cluster/manifests.ts';
import { freePort, waitFor } from './local-cluster/processes.ts';

const root = resolve(import.meta.dirname, '..');
const { values: flags } = parseArgs({ options: { exit: { type: 'boolean', default: false } } });
const dir = join(process.env.WEFT_CACHE ?? join(homedir(), '.cache/weft'), 'demo');
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (s: string) => console.log(`\n${bold(`==> ${s}`)}`);
const show = (s: string) => console.log(s.replace(/\n$/, '').replace(/^/gm, '    '));

let operator: ChildProcess | undefined;
let cp: ControlPlane | undefined;

async function shutdown(code: number): Promise<never> {
  operator?.kill('SIGTERM');
  await cp?.stop({ keepDir: true });
  process.exit(code);
}

/** config/ as a user would apply it, less the in-cluster Deployment: here the operator runs as a local process. */
function localInstallManifests(webhookUrl: string): string {
  const rendered = cp!.kubectl(['kustomize', join(root, 'config')]);
  const docs = parseAllDocuments(rendered).map((d) => d.toJS() as { kind: string; webhooks?: Array<{ clientConfig: unknown }> });
  return docs
    .filter((d) => !['CustomResourceDefinition', 'Deployment', 'PodDisruptionBudget', 'Service'].includes(d.kind))
    .map((d) => {
      if (d.kind === 'ValidatingWebhookConfiguration') for (const w of d.webhooks ?? []) w.clientConfig = { url: webhookUrl };
      return stringify(d);
    })
    .join('---\n');
}

function weftctl(args: string[]): string {
  const r = spawnSync(process.execPath, [join(root, 'src/cli/weftctl.ts'), ...args, '--kubeconfig', cp!.kubeconfigPath], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : `weftctl ${args.join(' ')} failed: ${r.stderr}`;
}

const until = (what: string, check: () => boolean): Promise<void> => waitFor(`waiting for ${what}`, async () => check(), 60_000);

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  step('Starting a local Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager');
  cp = await ControlPlane.start({ controllerManager: true, dir, log: (l) => show(l) });
  const admin = cp.kubeConfig();
  show(cp.kubectl(['version']));

  step("Installing weft's CRDs (Istio's API: networking.istio.io, security.istio.io)");
  await installCrds(admin);
  show(cp.kubectl(['get', 'crds']));

  step('Installing config/: namespace weft-system, ServiceAccount, least-privilege RBAC, validating webhook');
  const webhookPort = await freePort();
  show(cp.kubectl(['apply', '--server-side', '-f', '-'], localInstallManifests(`https://127.0.0.1:${webhookPort}/validate`)));

  step('Starting the operator as ServiceAccount weft-system/weft-operator (leader election, webhook on :' + webhookPort + ')');
  const sa = await serviceAccountKubeConfig(admin, 'weft-system', 'weft-operator', 24 * 3600);
  const saKubeconfig = join(dir, 'weft-operator.kubeconfig');
  writeFileSync(saKubeconfig, sa.exportConfig(), { mode: 0o600 });
  operator = spawn(
    process.execPath,
    [join(root, 'src/cli/weft.ts'), 'operator', '--kubeconfig', saKubeconfig, '--webhook-host', '127.0.0.1', '--webhook-port', String(webhookPort)],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const opLog = join(dir, 'operator.log');
  operator.stderr!.on('data', (b: Buffer) => writeFileSync(opLog, b, { flag: 'a' }));
  operator.on('exit', (code) => {
    if (code !== null && code !== 0) console.error(`operator exited with ${code}; see ${opLog}`);
  });
  await until('the webhook caBundle', () =>
    cp!.kubectl(['get', 'validatingwebhookconfiguration', 'weft-validator', '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']).length > 0,
  );
  show(`operator running (pid ${operator.pid}), log: ${opLog}`);

  step('Applying the bookinfo sample: plain Istio YAML from examples/bookinfo');
  show(cp.kubectl(['apply', '-f', join(root, 'examples/bookinfo')]));

  step('Waiting for weft to accept every resource (kubectl wait --for=condition=Accepted)');
  show(cp.kubectl(['wait', '--for=condition=Accepted', '--timeout=60s', '-n', 'bookinfo', 'vs,dr,gw,se,pa,ap,ra', '--all']));

  step('What kubectl shows (Istio-style printer columns)');
  show(cp.kubectl(['get', 'gw,vs,dr,se', '-n', 'bookinfo']));

  step('Status conditions written by weft');
  await until('ResolvedRefs and Programmed on every resource', () =>
    !cp!.kubectl(['get', 'vs,dr,gw,se,pa,ap,ra', '-n', 'bookinfo', '-o',
      'jsonpath={range .items[*]}{.status.conditions[?(@.type=="ResolvedRefs")].status}/{.status.conditions[?(@.type=="Programmed")].status}{"\\n"}{end}',
    ]).trim().split('\n').some((l) => l.startsWith('/') || l.endsWith('/')),
  );
  show(cp.kubectl([
    'get', 'vs,dr,gw,se,pa,ap,ra', '-n', 'bookinfo', '-o',
    'custom-columns=KIND:.kind,NAME:.metadata.name,GEN:.metadata.generation,OBSERVED:.status.conditions[0].observedGeneration,' +
      'ACCEPTED:.status.conditions[?(@.type=="Accepted")].status,RESOLVED-REFS:.status.conditions[?(@.type=="ResolvedRefs")].status,' +
      'PROGRAMMED:.status.conditions[?(@.type=="Programmed")].message',
  ]));

  step('Per-workload proxy config: one ConfigMap per injected workload, Envoy resources encoded and gzipped');
  await until('a ConfigMap for each of the six bookinfo workloads', () =>
    cp!.kubectl(['get', 'configmaps', '-n', 'bookinfo', '-l', 'app.kubernetes.io/managed-by=weft', '-o', 'name']).trim().split('\n').filter(Boolean).length >= 6,
  );
  show(cp.kubectl(['get', 'configmaps', '-n', 'bookinfo', '-l', 'app.kubernetes.io/managed-by=weft',
    '-o', 'custom-columns=NAME:.metadata.name,OWNER:.metadata.ownerReferences[0].kind,HASH:.metadata.annotations.weft\\.dev/config-hash']));

  step('What the reviews canary compiles to (weftctl proxy-config, like istioctl proxy-config)');
  show(weftctl(['proxy-config', 'deployment/productpage-v1', 'routes', '-n', 'bookinfo']));
  show(weftctl(['proxy-config', 'deployment/productpage-v1', 'clusters', '-n', 'bookinfo']).split('\n').filter((l, i) => i === 0 || l.includes('reviews')).join('\n'));

  step('Workload identities from the mesh CA: Secret weft-identity-<serviceaccount>, trust bundle weft-root-cert');
  await until('an identity Secret for each of the four bookinfo service accounts', () =>
    cp!.kubectl(['get', 'secrets', '-n', 'bookinfo', '-o', 'name']).split('\n').filter((l) => l.includes('weft-identity-')).length >= 4,
  );
  for (const sa of ['bookinfo-productpage', 'bookinfo-reviews']) {
    const pem = Buffer.from(cp.kubectl(['get', 'secret', `weft-identity-${sa}`, '-n', 'bookinfo', '-o', 'jsonpath={.data.cert-chain\\.pem}']), 'base64').toString();
    const cert = new X509Certificate(pem);
    show(`weft-identity-${sa}: ${cert.subjectAltName}, valid until ${cert.validTo}`);
  }
  show(cp.kubectl(['get', 'configmap', 'weft-root-cert', '-n', 'bookinfo', '-o', 'name']));

  step('A broken reference: VirtualService details-canary names a Gateway that does not exist');
  show(cp.kubectl(['get', 'vs', 'details-canary', '-n', 'bookinfo', '-o', 'jsonpath={range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\\n"}{end}']));

  step('Messages weft found (status.validationMessages, with Istio analyzer codes)');
  show(cp.kubectl([
    'get', 'vs,dr,gw,se,pa,ap,ra', '-n', 'bookinfo', '-o',
    'jsonpath={range .items[*]}{range .status.validationMessages[*]}{.level} {.type.code} {.field}: {.message}{"\\n"}{end}{end}',
  ]) || '(none)');

  step('An invalid resource is refused at admission, with the field named (examples/invalid)');
  const refused = cp.kubectlResult(['apply', '-f', join(root, 'examples/invalid')]);
  show(refused.status === 0 ? `unexpectedly accepted:\n${refused.stdout}` : refused.stderr);

  step('weft is running');
  show([
    `kubeconfig: ${cp.kubeconfigPath}`,
    `kubectl:    ${join(cp.bin, 'kubectl')}`,
    `try:        KUBECONFIG=${cp.kubeconfigPath} ${join(cp.bin, 'kubectl')} get vs -n bookinfo -o yaml`,
    `logs:       ${dir}/*.log`,
  ].join('\n'));
  if (flags.exit) {
    step('--exit: tearing down');
    await shutdown(0);
  }
  show('Press Ctrl-C to stop.');
}

main().catch(async (e: Error) => {
  console.error(`demo failed: ${e.message}`);
  await shutdown(1);
});
