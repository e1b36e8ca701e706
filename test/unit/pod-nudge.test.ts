// Pod nudges: which pods mount an object (projected volumes too), which of them are due (not finished, not being
// deleted, not showing the value yet), one patch per pod for requests made together, and the write-time rule that
// spares pods created after a write.
import { expect } from 'chai';
import type { KubernetesObject } from '@kubernetes/client-node';
import { createdAfter, lastWrittenAt, mountedNames, PodNudger, podsToNudge } from '../../src/controllers/pod-nudge.ts';
import { proxyVolumes } from '../../src/webhooks/inject-containers.ts';

type Pod = KubernetesObject & { spec?: unknown; status?: unknown };
const pod = (name: string, o: { phase?: string; deleting?: boolean; annotations?: Record<string, string>; volumes?: unknown[]; created?: string } = {}): Pod => ({
  metadata: {
    name, namespace: 'shop', uid: `uid-${name}`, annotations: o.annotations,
    ...(o.deleting ? { deletionTimestamp: new Date() } : {}), ...(o.created ? { creationTimestamp: o.created as never } : {}),
  },
  spec: { volumes: o.volumes ?? proxyVolumes('cart', 'cart') },
  status: { phase: o.phase ?? 'Pending' },
});

describe('pod nudges', () => {
  it('reads the ConfigMaps and Secrets a pod mounts, projected ones included', () => {
    const p = pod('a', { volumes: [...proxyVolumes('cart', 'cart'), { name: 'x', projected: { sources: [{ configMap: { name: 'extra' } }, { secret: { name: 'tls' } }] } }] });
    expect(mountedNames(p, 'configMap')).to.deep.equal(['weft-proxy-cart', 'weft-root-cert', 'extra']);
    expect(mountedNames(p, 'secret')).to.deep.equal(['weft-identity-cart', 'tls']);
  });

  it('is due for Pending and Running pods mounting the object without the value; not finished or deleting ones', () => {
    const pods = [
      pod('pending'), pod('running', { phase: 'Running' }), pod('done', { phase: 'Succeeded' }), pod('failed', { phase: 'Failed' }),
      pod('deleting', { deleting: true }), pod('shown', { annotations: { a: 'v1' } }), pod('old', { annotations: { a: 'v0' } }),
      pod('other', { volumes: proxyVolumes('web', 'web') }),
    ];
    expect(podsToNudge(pods, { kind: 'secret', name: 'weft-identity-cart' }, 'a', 'v1').map((p) => p.metadata?.name)).to.deep.equal(['pending', 'running', 'old']);
  });

  it('sends one patch per pod for requests made together, and a new one for a later request', async () => {
    const patches: Array<[string, Record<string, string>]> = [];
    const n = new PodNudger(async (_ns, name, _uid, a) => void patches.push([name, { ...a }]), 2);
    await Promise.all([n.nudge('shop', 'a', 'uid-a', { x: '1' }), n.nudge('shop', 'a', 'uid-a', { y: '2' }), n.nudge('shop', 'b', 'uid-b', { x: '1' })]);
    expect(patches).to.deep.equal([['a', { x: '1', y: '2' }], ['b', { x: '1' }]]);
    expect(await n.nudge('shop', 'a', 'uid-a', { x: '3' })).to.equal(true);
    expect(patches).to.have.length(3);
    expect(n.nudged).to.equal(3);
  });

  it('sends nothing for values a pod was sent already (the cache may lag), unless the pod was replaced or forgotten', async () => {
    const patches: string[] = [];
    const n = new PodNudger(async (_ns, name, uid) => void patches.push(`${name}/${uid}`));
    expect(await n.nudge('shop', 'a', 'uid-a', { x: '1', y: '1' })).to.equal(true);
    expect(await n.nudge('shop', 'a', 'uid-a', { x: '1' })).to.equal(false);
    expect(await n.nudge('shop', 'a', 'uid-a2', { x: '1' })).to.equal(true);
    n.forget('shop', 'a');
    expect(await n.nudge('shop', 'a', 'uid-a2', { x: '1' })).to.equal(true);
    expect(patches).to.deep.equal(['a/uid-a', 'a/uid-a2', 'a/uid-a2']);
  });

  it('a failed patch rejects every request it carried', async () => {
    const n = new PodNudger(async () => { throw new Error('forbidden'); });
    const r = await Promise.allSettled([n.nudge('shop', 'a', 'uid-a', { x: '1' }), n.nudge('shop', 'a', 'uid-a', { y: '1' })]);
    expect(r.map((x) => x.status)).to.deep.equal(['rejected', 'rejected']);
  });

  it('spares pods created in a later second than the last write, by the API server\'s timestamps', () => {
    const secret = { metadata: { creationTimestamp: '2026-01-01T00:00:00Z' as never, managedFields: [{ time: '2026-01-01T01:00:00Z' as never }] } };
    const at = lastWrittenAt(secret);
    expect(at).to.equal(Date.parse('2026-01-01T01:00:00Z'));
    expect(createdAfter(pod('same-second', { created: '2026-01-01T01:00:00Z' }), at)).to.equal(false);
    expect(createdAfter(pod('before', { created: '2026-01-01T00:30:00Z' }), at)).to.equal(false);
    expect(createdAfter(pod('after', { created: '2026-01-01T01:00:01Z' }), at)).to.equal(true);
    expect(createdAfter(pod('unknown'), at)).to.equal(false);
    expect(createdAfter(pod('after', { created: '2026-01-01T01:00:01Z' }), undefined)).to.equal(false);
  });
});
