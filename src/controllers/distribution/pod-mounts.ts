// Which pods mount which proxy ConfigMap (`weft-proxy-*`), kept from the pod informer's notifications: the pods to
// nudge after a ConfigMap write are found without scanning a namespace's pods once per workload. A candidate list
// only: delivery.ts checks each pod against the cache before annotating it.
import { PROXY_CONFIGMAP_PREFIX } from '../../translate/envoy/bundle-format.ts';

export class PodMounts {
  /** `namespace/pod` → the proxy ConfigMaps it mounts. */
  private readonly byPod = new Map<string, readonly string[]>();
  /** `namespace/configmap` → the pods (names) mounting it. */
  private readonly byConfigMap = new Map<string, Set<string>>();

  /** The pod `namespace/name` now mounts `configMaps` (undefined: it is gone). */
  update(namespace: string, name: string, configMaps: readonly string[] | undefined): void {
    const key = `${namespace}/${name}`;
    const next = (configMaps ?? []).filter((n) => n.startsWith(PROXY_CONFIGMAP_PREFIX));
    const prev = this.byPod.get(key) ?? [];
    if (prev.length === next.length && prev.every((n, i) => n === next[i])) return;
    for (const cm of prev) {
      const pods = this.byConfigMap.get(`${namespace}/${cm}`);
      pods?.delete(name);
      if (pods?.size === 0) this.byConfigMap.delete(`${namespace}/${cm}`);
    }
    if (next.length === 0) this.byPod.delete(key);
    else this.byPod.set(key, next);
    for (const cm of next) {
      const k = `${namespace}/${cm}`;
      let pods = this.byConfigMap.get(k);
      if (!pods) this.byConfigMap.set(k, (pods = new Set()));
      pods.add(name);
    }
  }

  /** Names of the pods of `namespace` mounting ConfigMap `name`. */
  pods(namespace: string, name: string): string[] {
    return [...(this.byConfigMap.get(`${namespace}/${name}`) ?? [])];
  }
}
