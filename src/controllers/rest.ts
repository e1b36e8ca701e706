// Plain JSON reads from the API server with a KubeConfig's credentials and TLS settings.
// In: a path (and a query). Out: the parsed JSON body, or a `KubeHttpError` carrying the HTTP status.
// Used for list calls so listed objects have exactly the shape watch events have (plain JSON, no class
// instances or Date objects from the typed clients).
import { HttpMethod, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { KubeClient, type KubeRequest, type ListOptions } from './kube-client.ts';

export { KubeHttpError } from './kube-client.ts';

export function getJson<T>(kc: KubeConfig, path: string, opts: Pick<KubeRequest, 'query' | 'signal'> = {}): Promise<T> {
  return new KubeClient(kc).request<T>(HttpMethod.GET, path, opts);
}

export async function listAll<T extends KubernetesObject>(kc: KubeConfig, path: string, opts: Omit<ListOptions, 'accept'> = {}): Promise<KubernetesListObject<T>> {
  const list = await new KubeClient(kc).list<T>(path, opts);
  // Built-in kinds omit apiVersion/kind on list items; watch events carry them, so make both look alike.
  const kind = list.kind?.replace(/List$/, '');
  for (const it of list.items) {
    it.apiVersion ??= list.apiVersion;
    if (kind) it.kind ??= kind;
  }
  return list;
}
