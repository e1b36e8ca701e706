// The `MeshView` that reference resolution reads, answered from informer caches (memory only, no requests).
// In: the caches of Services, Pods and the mesh kinds. Out: existence checks, ServiceEntry hosts, DestinationRule
// subsets, workload label sets, and for Gateways where their gateway workloads run and the Secrets there.
import type { KubernetesObject } from '@kubernetes/client-node';
import { list, record, str, stringList, stringMap } from '../model/kube.ts';
import type { SecretLookup } from './gateway/credentials.ts';
import { podIsGateway } from './gateway/mode.ts';
import type { GatewaySecrets } from './gateway/secrets.ts';
import type { Informer } from './informer.ts';
import type { ExtensionProvider, JwksFetch } from '../model/types.ts';
import type { DestinationRuleRef, Labels, MeshView } from './refs.ts';

type Obj = KubernetesObject & { spec?: Record<string, unknown>; status?: { phase?: string } };

export interface ViewCaches {
  services: Informer<Obj>;
  pods: Informer<Obj>;
  gateways: Informer<Obj>;
  virtualServices: Informer<Obj>;
  destinationRules: Informer<Obj>;
  serviceEntries: Informer<Obj>;
  workloadEntries: Informer<Obj>;
  /** The Secrets gateway credentials are read from; without them credentials are not checked. */
  secrets?: GatewaySecrets;
  /** The mesh config's extension providers and the fetched key sets; without them neither is checked. */
  mesh?: { extensionProviders(): readonly ExtensionProvider[]; jwksOf(uri: string): JwksFetch | undefined };
}

export class CacheMeshView implements MeshView {
  readonly rootNamespace: string;
  readonly clusterDomain: string;
  private readonly c: ViewCaches;

  constructor(caches: ViewCaches, rootNamespace: string, clusterDomain = 'cluster.local') {
    this.c = caches;
    this.rootNamespace = rootNamespace;
    this.clusterDomain = clusterDomain;
  }

  /** Empty without the Secret caches: then credentials are not checked at all. */
  gatewayNamespaces(selector: Labels): Iterable<string> {
    const out = new Set<string>();
    if (!this.c.secrets) return out;
    for (const pod of this.c.pods.list()) {
      const phase = pod.status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed' || !podIsGateway(pod)) continue;
      const labels = stringMap(pod.metadata?.labels);
      if (Object.entries(selector).every(([k, v]) => labels[k] === v)) out.add(pod.metadata?.namespace ?? '');
    }
    return out;
  }

  extensionProviders(): readonly ExtensionProvider[] | undefined {
    return this.c.mesh?.extensionProviders();
  }

  jwks(uri: string): JwksFetch | undefined {
    return this.c.mesh?.jwksOf(uri);
  }

  credentialSecrets(namespace: string): SecretLookup {
    return this.c.secrets?.lookup(namespace) ?? (() => 'unwatched');
  }

  hasGateway(namespace: string, name: string): boolean {
    return this.c.gateways.get(namespace, name) !== undefined;
  }

  hasVirtualService(namespace: string, name: string): boolean {
    return this.c.virtualServices.get(namespace, name) !== undefined;
  }

  hasService(namespace: string, name: string): boolean {
    return this.c.services.get(namespace, name) !== undefined;
  }

  *serviceEntryHosts(): Iterable<string> {
    for (const se of this.c.serviceEntries.list()) yield* stringList(se.spec?.hosts);
  }

  *destinationRules(): Iterable<DestinationRuleRef> {
    for (const dr of this.c.destinationRules.list()) {
      const host = dr.spec?.host;
      if (typeof host !== 'string') continue;
      const subsets = list(dr.spec?.subsets).flatMap((s) => str(record(s).name) ?? []);
      yield { namespace: dr.metadata?.namespace ?? '', host, subsets };
    }
  }

  *workloadLabels(namespace: string | undefined): Iterable<Labels> {
    for (const pod of this.c.pods.list(namespace)) {
      // Finished pods are not workloads any more.
      const phase = pod.status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') continue;
      yield stringMap(pod.metadata?.labels);
    }
    // A WorkloadEntry's labels are in its spec.
    for (const we of this.c.workloadEntries.list(namespace)) yield stringMap(we.spec?.labels);
  }
}
