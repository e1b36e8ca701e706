// The informer's resilience, driven through its list/watch seams (the real API server paths are covered by the
// integration tests): resume from resourceVersion, relist on 410, restart with backoff after errors.
import { expect } from 'chai';
import { KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { Informer, type WatchFn } from '../../src/controllers/informer.ts';
import { GATEWAYS } from '../../src/controllers/resources.ts';
import { FakeTimers, flush } from './fake-timers.ts';

interface WatchCall {
  query: Record<string, unknown>;
  callback: (phase: string, obj: unknown) => void;
  done: (err: unknown) => void;
  controller: AbortController;
}

const obj = (ns: string, name: string, rv: string): KubernetesObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'Gateway',
  metadata: { namespace: ns, name, resourceVersion: rv },
});

function harness() {
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
  const timers = new FakeTimers();
  const lists: Array<{ resolve: (l: KubernetesListObject<KubernetesObject>) => void; reject: (e: unknown) => void }> = [];
  const watches: WatchCall[] = [];
  let watchThrows: Error | undefined;
  const watch: WatchFn = async (_path, query, callback, done) => {
    if (watchThrows) throw watchThrows;
    const controller = new AbortController();
    watches.push({ query, callback, done, controller });
    return controller;
  };
  const informer = new Informer<KubernetesObject>({
    kubeConfig: kc,
    type: GATEWAYS,
    timers,
    retryBaseMs: 100,
    retryMaxMs: 1000,
    list: () => new Promise((resolve, reject) => lists.push({ resolve, reject })),
    watch,
  });
  const keys: string[] = [];
  informer.onChange((k) => keys.push(k));
  const respond = async (items: KubernetesObject[], rv: string) => {
    const l = lists.shift();
    if (!l) throw new Error('no list pending');
    l.resolve({ apiVersion: 'v1', kind: 'GatewayList', metadata: { resourceVersion: rv }, items });
    await flush();
  };
  const failList = async (err: unknown) => {
    lists.shift()!.reject(err);
    await flush();
  };
  return { informer, timers, lists, watches, keys, respond, failList, setWatchThrows: (e?: Error) => (watchThrows = e) };
}

describe('Informer', () => {
  it('lists, syncs, then watches from the list resourceVersion with bookmarks', async () => {
    const h = harness();
    h.informer.start();
    await flush();
    expect(h.informer.hasSynced()).to.equal(false);
    const synced = h.informer.waitForSync();
    await h.respond([obj('a', 'g1', '5'), obj('b', 'g2', '6')], '10');
    await synced;
    expect(h.informer.list().map((o) => o.metadata!.name)).to.deep.equal(['g1', 'g2']);
    expect(h.informer.get('a', 'g1')?.metadata?.resourceVersion).to.equal('5');
    expect(h.informer.getByKey('b/g2')).to.not.equal(undefined);
    expect(h.keys).to.deep.equal(['a/g1', 'b/g2']);
    expect(h.watches).to.have.length(1);
    expect(h.watches[0]!.query).to.include({ resourceVersion: '10', allowWatchBookmarks: true });
    await h.informer.stop();
  });

  it('applies watch events and resumes from the last resourceVersion when the watch ends', async () => {
    const h = harness();
    h.informer.start();
    await flush();
    await h.respond([obj('a', 'g1', '5')], '10');
    const w = h.watches[0]!;
    w.callback('ADDED', obj('a', 'g3', '11'));
    w.callback('MODIFIED', obj('a', 'g1', '12'));
    w.callback('DELETED', obj('a', 'g3', '13'));
    w.callback('BOOKMARK', { metadata: { resourceVersion: '20' } });
    expect(h.keys).to.deep.equal(['a/g1', 'a/g3', 'a/g1', 'a/g3']);
    expect(h.informer.list().map((o) => o.metadata!.resourceVersion)).to.deep.equal(['12']);
    w.done(null);
    await flush();
    expect(h.lists).to.have.length(0); // no relist
    expect(h.watches).to.have.length(2);
    expect(h.watches[1]!.query.resourceVersion).to.equal('20');
    await h.informer.stop();
  });

  it('relists on 410 Gone and reports objects that disappeared meanwhile', async () => {
    const h = harness();
    h.informer.start();
    await flush();
    await h.respond([obj('a', 'g1', '5'), obj('a', 'g2', '6')], '10');
    h.keys.length = 0;
    h.watches[0]!.done(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await flush();
    expect(h.lists).to.have.length(1);
    await h.respond([obj('a', 'g1', '5'), obj('a', 'g4', '30')], '31');
    expect(h.informer.list().map((o) => o.metadata!.name).sort()).to.deep.equal(['g1', 'g4']);
    expect(h.keys.sort()).to.deep.equal(['a/g2', 'a/g4']);
    expect(h.watches.at(-1)!.query.resourceVersion).to.equal('31');
    await h.informer.stop();
  });

  it('restarts with exponential backoff after list failures, then syncs', async () => {
    const h = harness();
    h.informer.start();
    await flush();
    await h.failList(new Error('connect ECONNREFUSED'));
    expect(h.timers.delays()).to.deep.equal([100]);
    await h.timers.advance(100);
    await h.failList(new Error('connect ECONNREFUSED'));
    expect(h.timers.delays()).to.deep.equal([200]);
    await h.timers.advance(200);
    await h.failList(Object.assign(new Error('Service Unavailable'), { statusCode: 503 }));
    expect(h.timers.delays()).to.deep.equal([400]);
    await h.timers.advance(400);
    await h.respond([obj('a', 'g1', '5')], '10');
    expect(h.informer.hasSynced()).to.equal(true);
    expect(h.watches).to.have.length(1);
    await h.informer.stop();
  });

  it('a failed watch restarts after backoff from the same resourceVersion, without relisting', async () => {
    const h = harness();
    h.informer.start();
    await flush();
    await h.respond([obj('a', 'g1', '5')], '10');
    h.watches[0]!.callback('MODIFIED', obj('a', 'g1', '15'));
    h.watches[0]!.done(new Error('socket hang up'));
    await flush();
    expect(h.watches).to.have.length(1);
    await h.timers.advance(100);
    expect(h.lists).to.have.length(0);
    expect(h.watches).to.have.length(2);
    expect(h.watches[1]!.query.resourceVersion).to.equal('15');
    await h.informer.stop();
  });

  it('a throwing watch call becomes a restart, not an unhandled rejection', async () => {
    const h = harness();
    h.setWatchThrows(new Error('exec auth plugin failed'));
    h.informer.start();
    await flush();
    await h.respond([obj('a', 'g1', '5')], '10');
    expect(h.informer.hasSynced()).to.equal(true);
    expect(h.timers.delays()).to.deep.equal([100]);
    h.setWatchThrows(undefined);
    await h.timers.advance(100);
    expect(h.watches).to.have.length(1);
    expect(h.watches[0]!.query.resourceVersion).to.equal('10');
    await h.informer.stop();
  });

  it('ignores the end of a watch it already replaced', async () => {
    const h = harness();
    h.informer.start();
    await flush();
    await h.respond([], '10');
    const first = h.watches[0]!;
    first.done(null);
    await flush();
    expect(h.watches).to.have.length(2);
    first.done(new Error('late'));
    first.callback('ADDED', obj('a', 'stale', '99'));
    await flush();
    expect(h.watches).to.have.length(2);
    expect(h.informer.list()).to.have.length(0);
    expect(h.timers.delays()).to.deep.equal([]);
    await h.informer.stop();
  });

  it('stop during a list does not start a watch, and rejects sync waiters', async () => {
    const h = harness();
    h.informer.start();
    await flush();
    const waiting = h.informer.waitForSync().then(
      () => 'synced',
      (e: Error) => e.message,
    );
    await h.informer.stop();
    await h.respond([obj('a', 'g1', '5')], '10');
    expect(await waiting).to.match(/stopped before it synced/);
    expect(h.watches).to.have.length(0);
    expect(h.timers.delays()).to.deep.equal([]);
  });

  it('a throwing change listener does not break the informer', async () => {
    const h = harness();
    h.informer.onChange(() => {
      throw new Error('listener bug');
    });
    h.informer.start();
    await flush();
    await h.respond([obj('a', 'g1', '5')], '10');
    h.watches[0]!.callback('ADDED', obj('a', 'g2', '11'));
    expect(h.keys).to.deep.equal(['a/g1', 'a/g2']);
    await h.informer.stop();
  });
});
