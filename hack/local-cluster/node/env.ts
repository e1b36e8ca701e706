// A container's environment as the kubelet resolves it: envFrom (ConfigMaps and Secrets) first, then env with
// literal values, `$(VAR)` references to earlier variables, and valueFrom fieldRef / configMapKeyRef /
// secretKeyRef. Plus HOSTNAME, which a container runtime sets from the pod's name.
import { CoreV1Api, type KubeConfig, type V1Container, type V1Pod } from '@kubernetes/client-node';

type Data = Record<string, string> | undefined;

async function readObject(core: CoreV1Api, kind: 'configmap' | 'secret', namespace: string, name: string): Promise<Data> {
  try {
    if (kind === 'configmap') return (await core.readNamespacedConfigMap({ name, namespace })).data ?? {};
    const data = (await core.readNamespacedSecret({ name, namespace })).data ?? {};
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
}

function fieldValue(pod: V1Pod, path: string): string {
  const md = pod.metadata ?? {};
  const labelOrAnnotation = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (labelOrAnnotation) return (labelOrAnnotation[1] === 'labels' ? md.labels : md.annotations)?.[labelOrAnnotation[2]!] ?? '';
  const values: Record<string, string | undefined> = {
    'metadata.name': md.name,
    'metadata.namespace': md.namespace,
    'metadata.uid': md.uid,
    'spec.serviceAccountName': pod.spec?.serviceAccountName,
    'spec.nodeName': pod.spec?.nodeName,
    'status.podIP': pod.status?.podIP,
    'status.hostIP': pod.status?.hostIP,
  };
  if (!(path in values)) throw new Error(`fieldRef ${path} is not supported by the local node`);
  return values[path] ?? '';
}

const expand = (value: string, env: Record<string, string>) => value.replace(/\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, k: string) => env[k] ?? m);

/** Throws (naming the variable and object) for a missing ConfigMap, Secret or key that is not optional. */
export async function containerEnv(kc: KubeConfig, pod: V1Pod, c: V1Container): Promise<Record<string, string>> {
  const core = kc.makeApiClient(CoreV1Api);
  const ns = pod.metadata!.namespace!;
  const env: Record<string, string> = { HOSTNAME: pod.metadata!.name! };
  for (const from of c.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) continue;
    const data = await readObject(core, from.configMapRef ? 'configmap' : 'secret', ns, ref.name ?? '');
    if (!data && !ref.optional) throw new Error(`envFrom: ${from.configMapRef ? 'ConfigMap' : 'Secret'} ${ns}/${ref.name} not found`);
    for (const [k, v] of Object.entries(data ?? {})) env[`${from.prefix ?? ''}${k}`] = v;
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) {
      env[e.name] = expand(e.value, env);
      continue;
    }
    const vf = e.valueFrom;
    if (!vf) {
      env[e.name] = '';
    } else if (vf.fieldRef) {
      env[e.name] = fieldValue(pod, vf.fieldRef.fieldPath);
    } else if (vf.configMapKeyRef || vf.secretKeyRef) {
      const ref = (vf.configMapKeyRef ?? vf.secretKeyRef)!;
      const kind = vf.configMapKeyRef ? 'ConfigMap' : 'Secret';
      const data = await readObject(core, vf.configMapKeyRef ? 'configmap' : 'secret', ns, ref.name ?? '');
      const value = data?.[ref.key];
      if (value === undefined && !ref.optional) throw new Error(`env ${e.name}: key ${ref.key} of ${kind} ${ns}/${ref.name} not found`);
      if (value !== undefined) env[e.name] = value;
    }
    // resourceFieldRef: no cgroups here, so no limits to report; the variable stays unset.
  }
  return env;
}
