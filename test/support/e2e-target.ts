// Where the e2e suite runs. Three tiers, each reported on its own: `local` (the local cluster of hack/local-cluster,
// started here; needs Linux and root), `kubeconfig` (any cluster weft is installed on, named by
// WEFT_E2E_KUBECONFIG: kind, k3d, a cloud cluster) and `k3s` (a k3s container started through testcontainers,
// where a Docker engine answers). A tier that cannot run here is skipped with its reason, never passed.
// The suite talks to a tier only through MeshTarget: kubectl, exec in a pod, a request from outside the mesh, and
// stopping or restarting the operator.
import type { KubectlResult } from '../../hack/local-cluster/control-plane.ts';
import type { LocalMesh } from '../../hack/local-cluster/mesh.ts';
import { runCommand } from '../../hack/local-cluster/processes.ts';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface MeshTarget {
  readonly name: string;
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  /** A command in a container of a running pod (kubectl exec on a real cluster). */
  exec(namespace: string, pod: string, container: string, argv: string[], timeoutMs?: number): Promise<ExecResult>;
  /** One HTTP GET from outside the mesh (no sidecar) to an address in the cluster network; rejects when refused. */
  outsideGet(url: string, timeoutMs: number): Promise<{ status: number; body: string }>;
  operator: { stop(): Promise<void>; start(): Promise<void>; restart(extraArgs: string[]): Promise<void> };
  /** The local cluster itself, for what only it offers (its node's internals, hosts outside the cluster). */
  readonly local?: LocalMesh;
}

export function localTarget(mesh: LocalMesh): MeshTarget {
  return {
    name: 'local',
    local: mesh,
    kubectl: (args, input) => mesh.cp.kubectlAsync(args, input),
    exec: (ns, pod, container, argv, timeoutMs) => mesh.node.exec(ns, pod, container, argv, timeoutMs),
    outsideGet: async (url, timeoutMs) => {
      const r = await mesh.node.agent.http({ url, timeoutMs });
      return { status: r.status, body: r.body };
    },
    operator: { stop: () => mesh.operator.stop(), start: async () => mesh.operator.start(), restart: (extra) => mesh.operator.restart(extra) },
  };
}

/**
 * A real cluster through kubectl. weft is installed from config/ (images weft:0.1.0 and the weft-examples/* images
 * of hack/build-images.sh loadable by its nodes); requests from outside the mesh run the sample client in the
 * e2e suite's non-mesh namespace.
 */
export function kubectlTarget(name: string, kubectlBin: string, kubeconfig: string, outsider: { namespace: string; selector: string }): MeshTarget {
  const kubectl = (args: string[], input?: string, timeoutMs?: number) => runCommand(kubectlBin, ['--kubeconfig', kubeconfig, ...args], input, timeoutMs);
  const must = async (args: string[]) => {
    const r = await kubectl(args);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const operatorArgs = async () => JSON.parse(await must(['get', 'deployment', 'weft-operator', '-n', 'weft-system', '-o', 'jsonpath={.spec.template.spec.containers[0].args}'])) as string[];
  let baseArgs: string[] | undefined;
  const rollout = () => must(['rollout', 'status', 'deployment/weft-operator', '-n', 'weft-system', '--timeout=180s']);
  const exec = async (ns: string, pod: string, container: string, argv: string[], timeoutMs = 60_000) => {
    const r = await kubectl(['exec', '-n', ns, pod, '-c', container, '--', ...argv], undefined, timeoutMs);
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return {
    name,
    kubectl: (args, input) => kubectl(args, input),
    exec,
    outsideGet: async (url, timeoutMs) => {
      const pod = (await must(['get', 'pods', '-n', outsider.namespace, '-l', outsider.selector, '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
      const r = await exec(outsider.namespace, pod, 'client', ['node', 'examples/apps/client.ts', 'fetch', url], timeoutMs + 5000);
      const result = (JSON.parse(r.stdout) as { results: Array<{ status?: number; body?: unknown; error?: string }> }).results[0]!;
      if (result.status === undefined) throw new Error(result.error ?? 'no answer');
      return { status: result.status, body: typeof result.body === 'string' ? result.body : JSON.stringify(result.body) };
    },
    operator: {
      stop: async () => {
        await must(['scale', 'deployment/weft-operator', '-n', 'weft-system', '--replicas=0']);
        await must(['wait', '--for=delete', 'pod', '-l', 'app.kubernetes.io/name=weft-operator', '-n', 'weft-system', '--timeout=120s']);
      },
      start: async () => {
        await must(['scale', 'deployment/weft-operator', '-n', 'weft-system', '--replicas=2']);
        await rollout();
      },
      restart: async (extraArgs) => {
        baseArgs ??= await operatorArgs();
        const patch = [{ op: 'replace', path: '/spec/template/spec/containers/0/args', value: [...baseArgs, ...extraArgs] }];
        await must(['patch', 'deployment', 'weft-operator', '-n', 'weft-system', '--type=json', '-p', JSON.stringify(patch)]);
        await rollout();
      },
    },
  };
}
