// The example apps the local node runs for weft-examples/* images: each starts as a child process on a free
// loopback port and answers its endpoints; reviews and productpage call their upstreams through the *_URL env.
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const appsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../examples/apps');
const XFCC = 'By=spiffe://cluster.local/ns/default/sa/httpbin;Hash=abc;URI=spiffe://cluster.local/ns/default/sa/first,'
  + 'By=spiffe://cluster.local/ns/default/sa/httpbin;Hash=def;Subject="CN=a,O=b";URI=spiffe://cluster.local/ns/default/sa/sleep';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as net.AddressInfo; s.close(() => resolve(port)); });
  });
}

describe('example apps', function () {
  this.timeout(10000);
  const children: ChildProcess[] = [];

  // Starts an app and resolves with its base URL once it logged its start line.
  async function start(name: string, env: Record<string, string> = {}): Promise<string> {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(appsDir, `${name}.ts`)], {
      env: { ...process.env, HOSTNAME: `${name}-pod`, ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 5000);
      let err = '';
      child.stderr!.on('data', (d: Buffer) => { err += d; });
      child.stdout!.on('data', (d: Buffer) => { if (/listening/.test(String(d))) { clearTimeout(timer); resolve(); } });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited ${code}: ${err}`)); });
    });
    return `http://127.0.0.1:${port}`;
  }

  async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    const r = await fetch(url, { headers, signal: AbortSignal.timeout(3000) });
    return { status: r.status, body: await r.json() };
  }

  after(() => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });

  it('details and ratings answer their ids with identity and the XFCC peer', async () => {
    const details = await start('bookinfo-details', { APP_VERSION: 'v1' });
    const d = await get(`${details}/details/0`, { 'x-forwarded-client-cert': XFCC });
    expect(d.status).to.equal(200);
    expect(d.body).to.include({ service: 'details', version: 'v1', pod: 'bookinfo-details-pod', id: '0', year: 1595 });
    expect(d.body.peer).to.equal('spiffe://cluster.local/ns/default/sa/sleep');
    expect((await get(`${details}/nope`)).status).to.equal(404);
    const ratings = await start('bookinfo-ratings', { APP_VERSION: 'v1' });
    const r = await get(`${ratings}/ratings/7`);
    expect(r.body).to.deep.include({ service: 'ratings', peer: null, ratings: { Reviewer1: 5, Reviewer2: 4 } });
  });

  it('reviews v1 has no ratings; v2 calls ratings forwarding trace headers; productpage embeds both', async () => {
    const ratings = await start('bookinfo-ratings', { APP_VERSION: 'v1' });
    const v1 = await start('bookinfo-reviews', { APP_VERSION: 'v1', RATINGS_URL: ratings });
    expect((await get(`${v1}/reviews/0`)).body).to.not.have.any.keys('ratings', 'stars');
    const v2 = await start('bookinfo-reviews', { APP_VERSION: 'v2', RATINGS_URL: ratings });
    const r = await get(`${v2}/reviews/0`);
    expect(r.body).to.include({ service: 'reviews', version: 'v2', stars: 'black' });
    expect(r.body.ratings).to.deep.include({ service: 'ratings', ratings: { Reviewer1: 5, Reviewer2: 4 } });

    // An httpbin stands in for details so the forwarded headers are visible; reviews v2 is real.
    const echo = await start('httpbin', { APP_VERSION: 'v9' });
    const page = await start('bookinfo-productpage', { APP_VERSION: 'v1', DETAILS_URL: `${echo}/headers`, REVIEWS_URL: v2 });
    const p = await get(`${page}/api/v1/products/0`, { 'end-user': 'jason', 'x-request-id': 'rid-1', 'x-unrelated': 'no' });
    expect(p.status).to.equal(200);
    expect(p.body).to.include({ service: 'productpage', version: 'v1' });
    expect(p.body.details.headers).to.include({ 'end-user': 'jason', 'x-request-id': 'rid-1' });
    expect(p.body.details.headers).to.not.have.property('x-unrelated');
    expect(p.body.reviews).to.include({ service: 'reviews', stars: 'black' });
    expect(p.body.reviews.ratings.service).to.equal('ratings');
    expect((await get(`${page}/productpage`)).body.reviews.service).to.equal('reviews');
    expect((await get(`${page}/health`)).status).to.equal(200);

    // A failing upstream becomes {error, status} inside a 200 answer.
    const broken = await start('bookinfo-productpage', { DETAILS_URL: `${echo}/status/500`, REVIEWS_URL: 'http://127.0.0.1:1' });
    const b = await get(`${broken}/api/v1/products/0`);
    expect(b.status).to.equal(200);
    expect(b.body.details).to.include({ status: 500 });
    expect(b.body.details.error).to.be.a('string');
    expect(b.body.reviews).to.include({ status: null });
  });

  it('httpbin answers status, delay and headers, and FAIL_EVERY=2 alternates 200/503', async () => {
    const bin = await start('httpbin', { APP_VERSION: 'v1' });
    expect((await get(`${bin}/status/418`)).status).to.equal(418);
    expect((await get(`${bin}/delay/50`)).body.delayMs).to.equal(50);
    expect((await get(`${bin}/headers`, { 'x-probe': 'yes' })).body.headers['x-probe']).to.equal('yes');
    expect((await get(`${bin}/anything`)).body).to.include({ service: 'httpbin', path: '/anything', version: 'v1' });
    const flaky = await start('httpbin', { FAIL_EVERY: '2' });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(`${flaky}/`)).status);
    expect(statuses).to.deep.equal([200, 503, 200, 503]);
    expect((await get(`${flaky}/ready`)).status).to.equal(200);
  });

  it('httpbin echoes TCP on TCP_PORT and exits 0 on SIGTERM', async () => {
    const tcpPort = await freePort();
    const bin = await start('httpbin', { TCP_PORT: String(tcpPort) });
    const echoed = await new Promise<string>((resolve, reject) => {
      const s = net.connect(tcpPort, '127.0.0.1', () => s.write('ping'));
      s.setTimeout(3000, () => { s.destroy(); reject(new Error('tcp echo timed out')); });
      s.once('data', (d) => { s.end(); resolve(String(d)); }).once('error', reject);
    });
    expect(echoed).to.equal('ping');
    expect((await get(`${bin}/`)).status).to.equal(200);
    const child = children.at(-1)!;
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).to.equal(0);
  });

  it('client fetch prints results and counts; client sleep exits 0 on SIGTERM', async () => {
    const flaky = await start('httpbin', { FAIL_EVERY: '2' });
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [path.join(appsDir, 'client.ts'), 'fetch', `${flaky}/headers`, '--n', '6', '--concurrency', '1',
        '--header', 'end-user: jason'], { timeout: 8000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    const lines = out.trim().split('\n');
    expect(lines).to.have.length(1);
    const parsed = JSON.parse(lines[0]!);
    expect(parsed.counts).to.deep.equal({ 200: 3, 503: 3 });
    expect(parsed.results[0].body.headers['end-user']).to.equal('jason');
    const sleeper = spawn(process.execPath, [path.join(appsDir, 'client.ts')], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(sleeper);
    await new Promise((resolve) => sleeper.stdout!.once('data', resolve));
    const exited = new Promise<number | null>((resolve) => sleeper.once('exit', resolve));
    sleeper.kill('SIGTERM');
    expect(await exited).to.equal(0);
  });
});
