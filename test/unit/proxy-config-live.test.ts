// The sidecar's live config over a directory laid out and swapped exactly like the kubelet's atomic writer:
// the first good config makes it ready, a corrupt or half-written bundle swapped in is rejected (counted in
// /stats/prometheus) and the last good one stays, a good one after it is picked up, identities rotate, and a
// key that does not belong to its certificate is refused.
import { expect } from 'chai';
import { gzipSync } from 'node:zlib';
import { silentLogger } from '../../src/controllers/log.ts';
import { readAtomicDir, watchAtomicDir } from '../../src/proxy/config/atomic-dir.ts';
import type { DirSnapshot } from '../../src/proxy/config/atomic-dir.ts';
import { startLiveConfig } from '../../src/proxy/config/live.ts';
import type { WatchedLiveConfig } from '../../src/proxy/config/live.ts';
import { createTelemetry } from '../../src/proxy/telemetry/istio.ts';
import type { SidecarTelemetry } from '../../src/proxy/telemetry/istio.ts';
import { eventually, KubeletVolume } from '../support/kubelet-volume.ts';
import { identityFiles, packed, productpageConfig, productpageConfigV2, workloadIdentity } from '../support/proxy-bundles.ts';

const FAST = { pollMs: 40, debounceMs: 5 };

describe('proxy config: kubelet atomic-writer directories', () => {
  const volumes: KubeletVolume[] = [];
  const volume = () => {
    const v = new KubeletVolume();
    volumes.push(v);
    return v;
  };
  afterEach(() => volumes.splice(0).forEach((v) => v.remove()));

  it('reads the files through ..data and sees each swap once', async () => {
    const v = volume();
    v.write({ a: 'one', b: 'two' });
    expect([...readAtomicDir(v.dir)!.files.entries()].map(([k, b]) => [k, b.toString()])).to.deep.equal([['a', 'one'], ['b', 'two']]);
    const seen: DirSnapshot[] = [];
    const w = watchAtomicDir(v.dir, (s) => seen.push(s), FAST);
    try {
      expect(seen).to.have.length(1);
      v.write({ a: 'three', b: 'four' });
      await eventually(() => seen.length === 2, 2000, 'the swap');
      expect(seen[1]!.files.get('a')!.toString()).to.equal('three');
      expect(seen[1]!.stamp).to.not.equal(seen[0]!.stamp);
      await new Promise((r) => setTimeout(r, 60)); // a poll round: no second event for the same version
      expect(seen).to.have.length(2);
    } finally {
      w.close();
    }
  });

  it('notices a plain directory whose file changes, and a directory that appears later', async () => {
    const v = new KubeletVolume();
    volumes.push(v);
    const { writeFileSync, rmSync } = await import('node:fs');
    rmSync(v.dir, { recursive: true });
    const seen: string[] = [];
    const w = watchAtomicDir(v.dir, (s) => seen.push(s.files.get('x')?.toString() ?? ''), FAST);
    try {
      expect(seen).to.deep.equal([]);
      const { mkdirSync } = await import('node:fs');
      mkdirSync(v.dir);
      writeFileSync(`${v.dir}/x`, '1');
      await eventually(() => seen.length === 1, 2000, 'the new directory');
      writeFileSync(`${v.dir}/x`, '22');
      await eventually(() => seen.length === 2, 2000, 'the changed file');
      expect(seen).to.deep.equal(['1', '22']);
    } finally {
      w.close();
    }
  });
});

describe('proxy config: live config and identity', () => {
  let cfg: KubeletVolume;
  let ids: KubeletVolume;
  let telemetry: SidecarTelemetry;
  let live: WatchedLiveConfig | undefined;
  beforeEach(() => {
    cfg = new KubeletVolume();
    ids = new KubeletVolume();
    telemetry = createTelemetry();
  });
  afterEach(() => {
    live?.close();
    live = undefined;
    cfg.remove();
    ids.remove();
  });
  const start = () => (live = startLiveConfig({ configDir: cfg.dir, identityDir: ids.dir, telemetry, log: silentLogger, ...FAST }));

  it('keeps the last good config when a corrupt one is swapped in, and takes the next good one', async () => {
    const v1 = packed(productpageConfig());
    const v2 = packed(productpageConfigV2());
    expect(v1.version).to.not.equal(v2.version);
    cfg.write({ 'config.pb.gz': v1.gzipped });
    const l = start();
    const changes: string[] = [];
    l.onChange((what) => changes.push(what));
    const first = await l.ready();
    expect(first.version).to.equal(v1.version);
    expect(first.config.workload.name).to.equal('productpage-v1');
    expect(first.compiled.capture.outbound).to.not.equal(undefined);

    // Half-written: the gzip stream is cut off in the middle.
    cfg.write({ 'config.pb.gz': v2.gzipped.subarray(0, v2.gzipped.length >> 1) });
    await eventually(() => telemetry.reloads('config', 'rejected') === 1, 2000, 'the rejection');
    expect(l.current()!.version).to.equal(v1.version);
    expect(telemetry.render()).to.include('weft_config_reloads_total{kind="config",result="rejected"} 1\n');
    // Not a proxy bundle at all (gzip of something else).
    cfg.write({ 'config.pb.gz': gzipSync(Buffer.from('this is not a protobuf bundle')) });
    await eventually(() => telemetry.reloads('config', 'rejected') === 2, 2000, 'the second rejection');
    expect(l.current()).to.equal(first);

    cfg.write({ 'config.pb.gz': v2.gzipped });
    await eventually(() => l.current()!.version === v2.version, 2000, 'the good config after the bad ones');
    expect(changes).to.deep.equal(['config']);
    expect(telemetry.reloads('config', 'success')).to.equal(2);
    expect(telemetry.render()).to.include(`weft_config_version{kind="config",version="${v2.version}"} 1\n`);
    expect(telemetry.render()).to.not.include(`version="${v1.version}"`);
  });

  it('picks up an identity rotation and serves it for /etc/weft/identity/ paths', async () => {
    const a = await workloadIdentity();
    const b = await workloadIdentity();
    cfg.write({ 'config.pb.gz': packed(productpageConfig()).gzipped });
    ids.write(identityFiles(a));
    const l = start();
    await l.ready();
    expect(l.identity()!.spiffeId).to.equal('spiffe://cluster.local/ns/bookinfo/sa/productpage');
    expect(l.files.read('/etc/weft/identity/key.pem')).to.equal(a.keyPem);
    expect(l.files.read('/etc/weft/identity/cert-chain.pem')).to.equal(a.certChainPem);
    const changes: string[] = [];
    l.onChange((what) => changes.push(what));
    ids.write(identityFiles(b));
    await eventually(() => l.identity()!.key === b.keyPem, 2000, 'the rotated identity');
    expect(l.files.read('/etc/weft/identity/key.pem')).to.equal(b.keyPem);
    expect(l.identity()!.notAfter.getTime()).to.equal(b.notAfter.getTime());
    expect(changes).to.deep.equal(['identity']);
  });

  it('refuses a key that does not belong to the certificate and keeps the old identity', async () => {
    const a = await workloadIdentity();
    const b = await workloadIdentity();
    cfg.write({ 'config.pb.gz': packed(productpageConfig()).gzipped });
    ids.write(identityFiles(a));
    const l = start();
    await l.ready();
    ids.write({ ...identityFiles(b), 'key.pem': a.keyPem });
    await eventually(() => telemetry.reloads('identity', 'rejected') === 1, 2000, 'the rejection');
    expect(l.identity()!.certChain).to.equal(a.certChainPem);
    expect(telemetry.render()).to.include('weft_config_reloads_total{kind="identity",result="rejected"} 1\n');
  });

  it('waits quietly on an empty volume and rejects one without config.pb.gz', async () => {
    const l = start();
    await new Promise((r) => setTimeout(r, 60));
    expect(l.current()).to.equal(undefined);
    expect(telemetry.reloads('config', 'rejected')).to.equal(0);
    cfg.write({ 'other.txt': 'x' });
    await eventually(() => telemetry.reloads('config', 'rejected') === 1, 2000, 'the rejection');
    cfg.write({ 'config.pb.gz': packed(productpageConfig()).gzipped });
    expect((await l.ready()).config.workload.name).to.equal('productpage-v1');
  });

  it('reads other certificate files from disk', async () => {
    cfg.write({ 'config.pb.gz': packed(productpageConfig()).gzipped, 'extra.pem': 'PEM' });
    const l = start();
    await l.ready();
    expect(l.files.read(`${cfg.dir}/extra.pem`)).to.equal('PEM');
    expect(l.files.read(`${cfg.dir}/missing.pem`)).to.equal(undefined);
  });
});
