// The mesh options the operator translates with, from three places: its flags (the defaults), the mesh config
// (ConfigMap weft-system/weft, last valid version) and the key sets fetched for RequestAuthentications.
// In: `applyConfig(options)` and `setJwks(all)`. Out: `options()` for each snapshot (a new object only when
// something changed) and what changed, so only what depends on it is looked at again.
import type { JwksFetch, MeshOptions } from '../../model/types.ts';

export interface MeshSettingsBase {
  /** The operator's root namespace: fixed for its lifetime (informers and status depend on it). */
  rootNamespace: string;
  /** `--outbound-traffic-policy`: the default the mesh config may override. */
  outboundTrafficPolicy?: MeshOptions['outboundTrafficPolicy'];
  /** The trust domain workload certificates are issued for: fixed for the operator's lifetime. */
  trustDomain?: string;
}

/** Fields of the mesh config the running operator cannot take on without a restart. */
const FIXED: ReadonlyArray<keyof MeshSettingsBase & keyof MeshOptions> = ['rootNamespace', 'trustDomain'];

export class MeshSettings {
  private readonly base: MeshSettingsBase;
  private config: Partial<MeshOptions> = {};
  private jwks: Readonly<Record<string, JwksFetch>> = {};
  private cached: Partial<MeshOptions> | undefined;

  constructor(base: MeshSettingsBase) {
    this.base = base;
  }

  /** What every snapshot is built with (the same object until something changes). */
  options(): Partial<MeshOptions> {
    this.cached ??= Object.freeze({
      ...(this.base.outboundTrafficPolicy ? { outboundTrafficPolicy: this.base.outboundTrafficPolicy } : {}),
      ...this.config,
      rootNamespace: this.base.rootNamespace,
      ...(this.base.trustDomain ? { trustDomain: this.base.trustDomain } : {}),
      jwks: this.jwks,
    });
    return this.cached;
  }

  /** The mesh config's options (already valid). Returns whether the options translation sees changed, and the
   * fields it set that this operator keeps as they are (warnings for whoever wrote them). */
  applyConfig(options: Partial<MeshOptions>): { changed: boolean; fixed: string[] } {
    const fixed: string[] = [];
    const next: Partial<MeshOptions> = { ...options };
    for (const f of FIXED) {
      const running = f === 'trustDomain' ? (this.base.trustDomain ?? 'cluster.local') : this.base.rootNamespace;
      if (next[f] !== undefined && next[f] !== running) {
        fixed.push(`${f}: "${String(next[f])}" differs from the operator's "${running}", which stays until the operator is restarted with it`);
      }
      delete next[f];
    }
    const changed = JSON.stringify(next) !== JSON.stringify(this.config);
    if (changed) {
      this.config = next;
      this.cached = undefined;
    }
    return { changed, fixed };
  }

  setJwks(all: Readonly<Record<string, JwksFetch>>): void {
    this.jwks = all;
    this.cached = undefined;
  }

  extensionProviders(): NonNullable<MeshOptions['extensionProviders']> {
    return this.config.extensionProviders ?? [];
  }

  jwksOf(uri: string): JwksFetch | undefined {
    return this.jwks[uri];
  }
}
