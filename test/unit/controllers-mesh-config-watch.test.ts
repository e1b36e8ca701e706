// The mesh config watch over an in-memory cache: applies valid configs (once per change), keeps the last valid one,
// and writes its verdict only as the leader, once per verdict.
import { expect } from 'chai';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { silentLogger } from '../../src/controllers/log.ts';
import { MeshConfigWatch, type MeshConfigReporter } from '../../src/controllers/mesh/config-watch.ts';
import { MeshSettings } from '../../src/controllers/mesh/settings.ts';
import { flush } from './fake-timers.ts';

class FakeCache {
  obj: KubernetesObject | undefined;
  private fns: Array<(key: string) => void> = [];
  get(): KubernetesObject | undefined {
    return this.obj;
  }
  onChange(fn: (key: string) => void): void {
    this.fns.push(fn);
  }
  set(mesh: string | undefined, annotations: Record<string, string> = {}): void {
    this.obj = mesh === undefined ? undefined : { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'weft', namespace: 'weft-system', uid: 'u1', annotations }, data: { mesh } } as KubernetesObject;
    for (const f of this.fns) f('weft-system/weft');
  }
}

function setup(leader = true) {
  const cache = new FakeCache();
  const calls: string[] = [];
  const reporter: MeshConfigReporter = {
    annotate: async (_cm, v) => void calls.push(`annotate ${v}`),
    event: async (_cm, e) => void calls.push(`event ${e.type} ${e.reason}`),
  };
  const settings = new MeshSettings({ rootNamespace: 'weft-system', outboundTrafficPolicy: 'ALLOW_ANY' });
  let applied = 0;
  const state = { leader };
  const watch = new MeshConfigWatch({
    kubeConfig: {} as KubeConfig,
    informer: () => cache as never,
    namespace: 'weft-system',
    settings,
    reporter,
    isLeader: () => state.leader,
    log: silentLogger,
    onApplied: () => void applied++,
  });
  return { cache, calls, settings, watch, state, applied: () => applied };
}

describe('controllers: mesh config watch', () => {
  it('applies a valid config once, keeps it when the next is invalid, and reports each verdict once', async () => {
    const t = setup();
    t.cache.set('outboundTrafficPolicy: {mode: REGISTRY_ONLY}');
    await flush();
    expect(t.settings.options().outboundTrafficPolicy).to.equal('REGISTRY_ONLY');
    expect(t.applied()).to.equal(1);
    expect(t.calls).to.deep.equal(['annotate Applied', 'event Normal MeshConfigApplied']);

    // Our own annotation comes back: nothing new.
    t.cache.set('outboundTrafficPolicy: {mode: REGISTRY_ONLY}', { 'weft.dev/mesh-config-status': 'Applied' });
    await flush();
    expect(t.applied()).to.equal(1);
    expect(t.calls).to.have.length(2);

    t.cache.set('outboundTrafficPolicy: {mode: BAD}', { 'weft.dev/mesh-config-status': 'Applied' });
    await flush();
    expect(t.settings.options().outboundTrafficPolicy).to.equal('REGISTRY_ONLY');
    expect(t.applied()).to.equal(1);
    expect(t.calls.slice(2)).to.deep.equal([
      'annotate Invalid: outboundTrafficPolicy.mode: must be ALLOW_ANY or REGISTRY_ONLY, not "BAD"; the operator keeps the last valid mesh config',
      'event Warning InvalidMeshConfig',
    ]);

    // The ConfigMap gone: weft's defaults and the flags.
    t.cache.set(undefined);
    await flush();
    expect(t.settings.options().outboundTrafficPolicy).to.equal('ALLOW_ANY');
    expect(t.applied()).to.equal(2);
  });

  it('an invalid config at startup leaves the defaults; only the leader writes, and does when it becomes leader', async () => {
    const t = setup(false);
    t.cache.set('pathNormalization: {normalization: SIDEWAYS}');
    await flush();
    expect(t.settings.options().pathNormalization).to.equal(undefined);
    expect(t.calls).to.deep.equal([]);
    t.state.leader = true;
    t.watch.report();
    await flush();
    expect(t.calls[0]).to.match(/^annotate Invalid: pathNormalization.normalization: .*; the operator uses its defaults$/);
  });
});
