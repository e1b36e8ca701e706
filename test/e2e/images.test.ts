// weft's container images (hack/images: buildah, no registry, no Docker engine) under a real containerd: a private
// containerd (own root, state and socket under a temp dir) imports the archives ensureImages builds or reuses,
// then runs the weft image and an example app image with `ctr run`. containerd and its shims are stopped after.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ensureImages, fullName, imageNames } from '../../hack/images/index.ts';
import { importImage } from '../../hack/local-cluster/kubelet/containerd.ts';
import { ensureTools } from '../../hack/images/tools.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Result { code: number; stdout: string; stderr: string }
const exec = (cmd: string, args: string[], timeout = 120_000): Promise<Result> =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
  });

// The CRI section matters here: without restrict_oom_score_adj, runc cannot lower a child's OOM score on a machine
// that withholds CAP_SYS_RESOURCE and fails with "can't get final child's PID from pipe".
const config = (dir: string) => `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
`;

describe('e2e [images]: weft images built without a registry, run by containerd', function () {
  this.timeout(180_000);
  let dir = '';
  let sock = '';
  let containerd: ChildProcess | undefined;
  const started: string[] = [];
  const ctr = (args: string[], timeout?: number) => exec('ctr', ['-a', sock, '-n', 'k8s.io', ...args], timeout);

  before(async function () {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      console.log('      skipped: building images (chroot RUN steps) and running containerd need root on Linux');
      return this.skip();
    }
    // A cold build (debootstrap, npm ci, 19 images) takes minutes; later runs reuse the cached archives.
    this.timeout(3_600_000);
    const archives = await ensureImages((l) => { if (!l.startsWith('  ')) console.log(`      ${l}`); });
    ensureTools({ containerd: 'containerd', ctr: 'containerd', runc: 'runc' });
    dir = mkdtempSync(join(tmpdir(), 'weft-containerd-'));
    sock = join(dir, 'containerd.sock');
    writeFileSync(join(dir, 'config.toml'), config(dir));
    const logFd = openSync(join(dir, 'containerd.log'), 'w');
    containerd = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', logFd, logFd] });
    const deadline = Date.now() + 60_000;
    while ((await ctr(['version'], 5000)).code !== 0) {
      if (containerd.exitCode !== null || Date.now() > deadline) throw new Error(`containerd did not start:\n${readFileSync(join(dir, 'containerd.log'), 'utf8').slice(-3000)}`);
      await sleep(250);
    }
    for (const a of archives) await importImage(sock, a);
  });

  after(async function () {
    this.timeout(120_000);
    if (!dir) return;
    for (const id of started) {
      await ctr(['task', 'kill', '-s', 'SIGKILL', id]);
      await ctr(['task', 'rm', '-f', id]);
      await ctr(['container', 'rm', id]);
    }
    if (containerd && containerd.exitCode === null) {
      const exited = new Promise((r) => containerd?.once('exit', r));
      containerd.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (containerd.exitCode === null) containerd.kill('SIGKILL');
    }
    // Shims outlive containerd by design; ours are the ones started with our socket's address.
    for (const pid of (await exec('pgrep', ['-f', `containerd-shim.*${sock}`])).stdout.split('\n').filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* already gone */ }
    }
    const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir));
    for (const m of mounts.reverse()) await exec('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('imports every image under the full name the manifests resolve to', async () => {
    const listed = (await ctr(['images', 'ls', '-q'])).stdout.split('\n');
    const wanted = imageNames().map(fullName);
    expect(wanted).to.include('docker.io/library/weft:0.1.0').and.include('docker.io/weft-examples/httpbin:v1');
    expect(wanted.filter((n) => !listed.includes(n))).to.deep.equal([]);
  });

  it('runs the weft image: `weft help` prints the usage, as UID 65532', async () => {
    const id = `weft-help-${process.pid}`;
    started.push(id);
    const r = await ctr(['run', '--rm', 'docker.io/library/weft:0.1.0', id, 'sh', '-c', 'id -u; id -g; exec node dist/cli/weft.js help']);
    expect(r.code, r.stderr).to.equal(0);
    const [uid, gid, ...usage] = r.stdout.split('\n');
    expect([uid, gid]).to.deep.equal(['65532', '65532']);
    expect(usage.join('\n')).to.match(/usage/i).and.match(/operator/).and.match(/proxy/);
  });

  it('carries what the sidecar and weft-init need: the SO_ORIGINAL_DST addon loads, iptables is there', async () => {
    const id = `weft-addon-${process.pid}`;
    started.push(id);
    const load = "const a = require('/app/native/original-dst/build/Release/original_dst.node'); console.log(typeof a.originalDst)";
    const r = await ctr(['run', '--rm', 'docker.io/library/weft:0.1.0', id, 'sh', '-c', `node -e "${load}"; iptables --version`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^function\n/).and.match(/iptables v\d/);
  });

  it('runs an example app by its entrypoint: httpbin answers inside the container network, on Node 24', async () => {
    const id = `weft-httpbin-${process.pid}`;
    started.push(id);
    const run = await ctr(['run', '-d', 'docker.io/weft-examples/httpbin:v1', id]);
    expect(run.code, run.stderr).to.equal(0);
    const probe = `fetch('http://127.0.0.1:9080/headers').then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.json(), node: process.version, uid: process.getuid() })))`;
    let last: Result = { code: -1, stdout: '', stderr: '' };
    const deadline = Date.now() + 60_000;
    for (let i = 0; Date.now() < deadline; i++) {
      last = await ctr(['task', 'exec', '--exec-id', `probe-${i}`, id, 'node', '-e', probe]);
      if (last.code === 0) break;
      await sleep(500);
    }
    expect(last.code, last.stderr).to.equal(0);
    const got = JSON.parse(last.stdout) as { status: number; body: Record<string, unknown>; node: string; uid: number };
    expect(got.status).to.equal(200);
    expect(got.body).to.include({ service: 'httpbin', version: 'v1', path: '/headers' });
    expect(got.node).to.match(/^v24\./);
    expect(got.uid).to.equal(1000);
    const npm = await ctr(['task', 'exec', '--exec-id', 'npm', id, 'npm', '--version']);
    expect(npm.stdout.trim(), npm.stderr).to.match(/^\d+\.\d+\.\d+$/);
  });

  it('gives each example image its own app and version (the names differ only in build args)', async () => {
    const examples = imageNames().filter((n) => n.startsWith('weft-examples/'));
    const wrong: string[] = [];
    for (const [i, name] of examples.entries()) {
      const id = `weft-app-${process.pid}-${i}`;
      started.push(id);
      const r = await ctr(['run', '--rm', fullName(name), id, 'sh', '-c', 'echo "weft-examples/$APP:$APP_VERSION"; test -f "examples/apps/$APP.ts"']);
      if (r.code !== 0 || r.stdout.trim() !== name) wrong.push(`${name}: exit ${r.code} ${r.stdout.trim()} ${r.stderr.trim()}`);
    }
    expect(wrong).to.deep.equal([]);
  });
});
