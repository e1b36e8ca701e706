// Watches the mesh config (ConfigMap `<root namespace>/weft`, key `mesh`) and applies it without a restart.
// In: the operator's informer factory, the MeshSettings to update. Out: `onApplied()` when the options translation
// sees changed; on the ConfigMap (leader only) the `weft.dev/mesh-config-status` annotation and an Event whenever
// that verdict changes. An invalid config is logged and reported, and the last valid one stays in force; a missing
// ConfigMap (or key) is an empty config: weft's defaults and the operator's flags.
import { HttpMethod, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { MESH_CONFIG_KEY, MESH_CONFIG_NAME, parseMeshConfig } from '../../model/mesh-config.ts';
import type { Informer, InformerOptions } from '../informer.ts';
import { KubeClient } from '../kube-client.ts';
import type { Logger } from '../log.ts';
import { CONFIG_MAPS, type ResourceType } from '../resources.ts';
import type { MeshSettings } from './settings.ts';
import { MESH_CONFIG_STATUS_ANNOTATION, meshConfigVerdict, type Verdict } from './verdict.ts';

type ConfigMap = KubernetesObject & { data?: Record<string, string> };

/** Writes the verdict on the ConfigMap: the annotation, and an Event. */
export interface MeshConfigReporter {
  annotate(cm: ConfigMap, value: string): Promise<void>;
  event(cm: ConfigMap, e: Verdict['event']): Promise<void>;
}

export interface MeshConfigWatchOptions {
  kubeConfig: KubeConfig;
  informer: (type: ResourceType, extra?: Partial<InformerOptions<KubernetesObject>>) => Informer<KubernetesObject>;
  namespace: string;
  name?: string;
  settings: MeshSettings;
  onApplied: () => void;
  isLeader: () => boolean;
  log: Logger;
  reporter?: MeshConfigReporter;
}

export class MeshConfigWatch {
  readonly informer: Informer<KubernetesObject>;
  private readonly o: MeshConfigWatchOptions;
  private readonly name: string;
  private readonly reporter: MeshConfigReporter;
  private lastText: string | undefined;
  private verdict: Verdict | undefined;
  private hadValid = false;
  /** The annotation written (or being written) for the ConfigMap of this uid. */
  private reported: { uid: string; annotation: string } | undefined;

  constructor(o: MeshConfigWatchOptions) {
    this.o = o;
    this.name = o.name ?? MESH_CONFIG_NAME;
    this.reporter = o.reporter ?? kubeReporter(o.kubeConfig);
    this.informer = o.informer(CONFIG_MAPS, { namespace: o.namespace, fieldSelector: `metadata.name=${this.name}` });
    this.informer.onChange(() => this.process());
  }

  private current(): ConfigMap | undefined {
    return this.informer.get(this.o.namespace, this.name) as ConfigMap | undefined;
  }

  /** Reads the ConfigMap from the cache; applies its config when the text changed; reports the verdict. */
  process(): void {
    const cm = this.current();
    const text = cm?.data?.[MESH_CONFIG_KEY] ?? '';
    if (text !== this.lastText) {
      this.lastText = text;
      const r = parseMeshConfig(text);
      if (r.errors.length > 0) {
        this.verdict = meshConfigVerdict(r, [], this.hadValid);
        this.o.log.error('invalid mesh config, not applied', { configMap: `${this.o.namespace}/${this.name}`, errors: r.errors.map((e) => `${e.field}: ${e.message}`) });
      } else {
        const { changed, fixed } = this.o.settings.applyConfig(r.options);
        this.hadValid = true;
        this.verdict = meshConfigVerdict(r, fixed);
        if (this.verdict.annotation !== 'Applied') this.o.log.warn('mesh config applied with warnings', { configMap: `${this.o.namespace}/${this.name}`, warnings: this.verdict.annotation });
        else this.o.log.info('mesh config applied', { configMap: `${this.o.namespace}/${this.name}`, changed });
        if (changed) this.o.onApplied();
      }
    }
    this.report();
  }

  /** Writes the verdict on the ConfigMap when leading and it is not there yet (called again on becoming leader). */
  report(): void {
    const cm = this.current();
    const v = this.verdict;
    if (!cm || !v || !this.o.isLeader()) return;
    const uid = cm.metadata?.uid ?? '';
    if (cm.metadata?.annotations?.[MESH_CONFIG_STATUS_ANNOTATION] === v.annotation) {
      this.reported = { uid, annotation: v.annotation };
      return;
    }
    if (this.reported?.uid === uid && this.reported.annotation === v.annotation) return; // under way
    this.reported = { uid, annotation: v.annotation };
    void (async () => {
      try {
        await this.reporter.annotate(cm, v.annotation);
        await this.reporter.event(cm, v.event);
      } catch (err) {
        this.o.log.warn('reporting on the mesh config failed', { error: err });
        if (this.reported?.annotation === v.annotation) this.reported = undefined;
      }
    })();
  }
}

function kubeReporter(kc: KubeConfig): MeshConfigReporter {
  const client = new KubeClient(kc);
  return {
    async annotate(cm, value) {
      const path = `/api/v1/namespaces/${encodeURIComponent(cm.metadata?.namespace ?? '')}/configmaps/${encodeURIComponent(cm.metadata?.name ?? '')}`;
      await client.request(HttpMethod.PATCH, path, {
        body: { metadata: { annotations: { [MESH_CONFIG_STATUS_ANNOTATION]: value } } },
        contentType: 'application/merge-patch+json',
      });
    },
    async event(cm, e) {
      const ns = cm.metadata?.namespace ?? '';
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      await client.request(HttpMethod.POST, `/api/v1/namespaces/${encodeURIComponent(ns)}/events`, {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: `${cm.metadata?.name ?? 'weft'}.`, namespace: ns },
          involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: cm.metadata?.name, uid: cm.metadata?.uid, resourceVersion: cm.metadata?.resourceVersion },
          type: e.type,
          reason: e.reason,
          message: e.message.slice(0, 1024),
          source: { component: 'weft-operator' },
          reportingComponent: 'weft.dev/operator',
          reportingInstance: process.env.POD_NAME ?? 'weft-operator',
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    },
  };
}
