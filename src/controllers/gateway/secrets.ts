// The Secrets gateway credentials are read from: one informer per gateway namespace (weft-system by default),
// never cluster-wide — the operator's RBAC reaches Secrets only there. In: the namespaces. Out: lookups by
// namespace and name, `unwatched` for any other namespace, and change notifications.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Informer } from '../informer.ts';
import type { SecretLookup } from './credentials.ts';

type Secret = KubernetesObject & { data?: Record<string, string> };
export type SecretCache = Pick<Informer<Secret>, 'get' | 'onChange'>;

export class GatewaySecrets {
  private readonly byNamespace: ReadonlyMap<string, SecretCache>;

  constructor(byNamespace: ReadonlyMap<string, SecretCache>) {
    this.byNamespace = byNamespace;
  }

  namespaces(): string[] {
    return [...this.byNamespace.keys()];
  }

  watched(namespace: string): boolean {
    return this.byNamespace.has(namespace);
  }

  get(namespace: string, name: string): Secret | undefined {
    return this.byNamespace.get(namespace)?.get(namespace, name);
  }

  /** Lookups confined to one namespace (Istio's rule: the gateway workload's own). */
  lookup(namespace: string): SecretLookup {
    const cache = this.byNamespace.get(namespace);
    if (!cache) return () => 'unwatched';
    return (name) => {
      const s = cache.get(namespace, name);
      return s ? (s.data ?? {}) : undefined;
    };
  }

  /** `fn(namespace/name)` on every change of a Secret in a watched namespace. */
  onChange(fn: (key: string) => void): void {
    for (const cache of this.byNamespace.values()) cache.onChange(fn);
  }
}
