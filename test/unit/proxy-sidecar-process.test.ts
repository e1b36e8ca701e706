// `weft proxy` as a real child process: not ready (503) until a config volume appears, ready (200 LIVE) once
// it has loaded, and it ends with exit status 0 on POST /quitquitquit (how a Job's proxy is stopped) and on
// SIGTERM; logs are JSON lines on stderr. In gateway mode it binds the config's listeners and terminates HTTPS
// with a certificate from its credentials directory; a port it may not bind is named in the log with the sysctl.
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { eventually, KubeletVolume } from '../support/kubelet-volume.ts';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { identityFiles, loopbackConfig, packed, productpageConfig, workloadIdentity } from '../support/proxy-bundles.ts';
import { listener, proxyConfig, routeConfig, tcpProxy, vhost } from '../support/envoy-objects.ts';
import { credentialFiles, hostCert, httpsChain, httpsGet, sdsTls, tlsInspector, webCa } from '../support/proxy-gateway-fixtures.ts';
import { freePort } from '../support/proxy-net-fixtures.ts';
import { prepareNetns } from '../support/proxy-netns.ts';

const WEFT = resolve(import.meta.dirname, '../../src/cli/weft.ts');

interface Running {
  child: ChildProcess;
  admin: string;
  stdout: string[];
  logs: Array<Record<string, unknown>>;
  exit: Promise<number | null>;
}

async function startProxy(configDir: string, identityDir: string, ...extra: string[]): Promise<Running> {
  const child = spawn(process.execPath, [WEFT, 'proxy', '--config-dir', configDir, '--identity-dir', identityDir, '--admin', '127.0.0.1:0',
    '--capture', 'none', '--drain-timeout', '1s', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const admin = await new Promise<string>((res, rej) => {
    const rl = createInterface({ input: child.stderr! });
    rl.on('line', (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line);
      } catch {
        rec = { unparsed: line };
      }
      logs.push(rec);
      if (rec.msg === 'admin listening') res(`http://127.0.0.1:${String(rec.port)}`);
    });
    void exit.then((code) => rej(new Error(`proxy exited (${code}) before listening: ${JSON.stringify(logs)}`)));
  });
  const stdout: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (c: string) => stdout.push(c));
  return { child, admin, stdout, logs, exit };
}

async function readyStatus(admin: string): Promise<number> {
  return (await fetch(`${admin}/ready`)).status;
}

async function waitReady(admin: string): Promise<void> {
  const end = Date.now() + 10_000;
  while ((await readyStatus(admin)) !== 200) {
    if (Date.now() > end) throw new Error('proxy never became ready');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('weft proxy: the process', function () {
  this.timeout(20_000);
  let cfg: KubeletVolume;
  let ids: KubeletVolume;
  let running: Running | undefined;
  beforeEach(async () => {
    cfg = new KubeletVolume();
    ids = new KubeletVolume();
    ids.write(identityFiles(await workloadIdentity()));
  });
  afterEach(() => {
    if (running && running.child.exitCode === null) running.child.kill('SIGKILL');
    running = undefined;
    cfg.remove();
    ids.remove();
  });

  it('is not ready without config, becomes ready when it appears, and exits 0 on /quitquitquit', async () => {
    running = await startProxy(cfg.dir, ids.dir, '--prometheus', '127.0.0.1:0', '--health', '127.0.0.1:0');
    const end = Date.now() + 5000;
    while (!running.logs.some((l) => l.msg === 'health listening') && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    const health = `http://127.0.0.1:${String(running.logs.find((l) => l.msg === 'health listening')?.port)}`;
    expect(await readyStatus(running.admin)).to.equal(503);
    expect((await fetch(`${health}/healthz/ready`)).status).to.equal(503);
    cfg.write({ 'config.pb.gz': packed(productpageConfig()).gzipped });
    await waitReady(running.admin);
    // The health port answers readiness and nothing else: no config dump, no quitting.
    expect((await fetch(`${health}/healthz/ready`)).status).to.equal(200);
    expect((await fetch(`${health}/config_dump`)).status).to.equal(404);
    expect((await fetch(`${health}/quitquitquit`, { method: 'POST' })).status).to.equal(404);
    const info = await (await fetch(`${running.admin}/server_info`)).json() as Record<string, unknown>;
    expect(info).to.deep.include({ state: 'LIVE', workload: 'bookinfo/productpage-v1' });
    expect(info.identity).to.deep.include({ spiffeId: 'spiffe://cluster.local/ns/bookinfo/sa/productpage' });
    // The separate metrics port serves the same registry.
    const metricsPort = running.logs.find((l) => l.msg === 'metrics listening')?.port;
    const scraped = await (await fetch(`http://127.0.0.1:${String(metricsPort)}/stats/prometheus`)).text();
    expect(scraped).to.include('weft_config_reloads_total{kind="config",result="success"} 1\n');
    expect(scraped).to.include('weft_config_reloads_total{kind="identity",result="success"} 1\n');
    const quit = await fetch(`${running.admin}/quitquitquit`, { method: 'POST' });
    expect(quit.status).to.equal(200);
    expect(await running.exit).to.equal(0);
    expect(running.logs.map((l) => l.msg)).to.include.members(['config loaded', 'ready', 'draining', 'stopped']);
    expect(running.logs.every((l) => typeof l.level === 'string')).to.equal(true);
  });

  it('exits 0 on SIGTERM after draining', async () => {
    cfg.write({ 'config.pb.gz': packed(productpageConfig()).gzipped });
    running = await startProxy(cfg.dir, ids.dir);
    await waitReady(running.admin);
    running.child.kill('SIGTERM');
    expect(await running.exit).to.equal(0);
    await eventually(() => running!.logs.some((l) => l.msg === 'stopped'), 1000, 'the stopped log line');
    expect(running.logs.find((l) => l.msg === 'draining')).to.deep.include({ reason: 'SIGTERM' });
  });

  it('finishes an in-flight request on SIGTERM, writes the access log on stdout, exits 0', async () => {
    const app = http.createServer((req, res) => setTimeout(() => res.end(`done ${req.url}`), req.url === '/slow' ? 300 : 0));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    try {
      cfg.write({ 'config.pb.gz': packed(loopbackConfig((app.address() as AddressInfo).port)).gzipped });
      running = await startProxy(cfg.dir, ids.dir, '--explicit', '127.0.0.1:0=outbound:10.96.0.5:9080');
      await waitReady(running.admin);
      const ready = running.logs.find((l) => l.msg === 'ready') as { listeners: Array<{ port: number }> };
      const port = ready.listeners[0]!.port;
      const get = (path: string) => new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path, headers: { host: 'reviews:9080' }, agent: false }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve(`${res.statusCode} ${body}`));
        }).on('error', reject);
      });
      expect(await get('/fast')).to.equal('200 done /fast');
      const slow = get('/slow');
      await new Promise((r) => setTimeout(r, 100));
      running.child.kill('SIGTERM');
      expect(await slow).to.equal('200 done /slow');
      expect(await running.exit).to.equal(0);
      const lines = running.stdout.join('').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => `${String(l.path)} ${String(l.response_code)}`)).to.deep.equal(['/fast 200', '/slow 200']);
    } finally {
      app.close();
    }
  });

  it('--gateway binds the config\'s listeners and serves HTTPS with the certificate from --credentials-dir', async () => {
    const port = await freePort();
    const cert = await hostCert(['gw.example.com']);
    const creds = new KubeletVolume();
    try {
      creds.write(credentialFiles('gw-cert', cert));
      cfg.write({ 'config.pb.gz': packed(proxyConfig({
        listeners: [listener(`0.0.0.0_${port}`, '127.0.0.1', port, [httpsChain('gw', ['gw.example.com'], sdsTls('gw-cert'), 'https.443.https.gw.ns')],
          { listenerFilters: [tlsInspector] })],
        routes: [routeConfig('https.443.https.gw.ns', [vhost('gw', ['*'], [{ match: { prefix: '/' }, directResponse: { status: 200, body: { inlineString: 'gateway' } } }])])],
      })).gzipped });
      running = await startProxy(cfg.dir, ids.dir, '--gateway', '--credentials-dir', creds.dir, '--access-log', 'off');
      await waitReady(running.admin);
      const reply = await httpsGet(port, { sni: 'gw.example.com', host: 'gw.example.com', ca: (await webCa()).certPem });
      expect(reply).to.deep.equal({ body: 'gateway', serial: cert.serial });
      expect(running.logs.find((l) => l.msg === 'credentials loaded')).to.deep.include({ credentials: ['gw-cert'] });
    } finally {
      creds.remove();
    }
  });

  it('as UID 1337 without the unprivileged-port sysctl, names the low port it cannot bind and the sysctl, and binds the rest', async function () {
    // A namespace of its own, where ports below 1024 are privileged whatever the host's setting.
    const ns = prepareNetns(`weft-lowport-${process.pid}`);
    if ('skip' in ns) return this.skip(); // the reason is printed; WEFT_REQUIRE_NETNS=1 fails instead
    ns.exec('sh', ['-c', 'echo 1024 > /proc/sys/net/ipv4/ip_unprivileged_port_start']);
    const low = 1000 + Math.floor(Math.random() * 20);
    const high = 20_000 + Math.floor(Math.random() * 1000);
    const config = (p: number) => listener(`0.0.0.0_${p}`, '127.0.0.1', p, [{ filters: [tcpProxy('none')] }]);
    cfg.write({ 'config.pb.gz': packed(proxyConfig({ listeners: [config(low), config(high)] })).gzipped });
    // The volumes are private temp dirs: let the proxy's user read them.
    for (const d of [cfg.dir, ids.dir]) execFileSync('chmod', ['-R', 'a+rX', d]);
    const child = spawn('ip', ['netns', 'exec', ns.name, 'setpriv', '--reuid', '1337', '--regid', '1337', '--clear-groups', process.execPath, WEFT, 'proxy', '--gateway',
      '--config-dir', cfg.dir, '--identity-dir', ids.dir, '--admin', '127.0.0.1:0', '--access-log', 'off'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const lines: string[] = [];
    child.stderr!.setEncoding('utf8').on('data', (c: string) => lines.push(c));
    try {
      await eventually(() => lines.join('').includes('gateway listener bound') && lines.join('').includes('cannot bind'), 10_000, 'the listeners');
      const logs = lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
      const failed = logs.find((l) => String(l.msg).startsWith('cannot bind gateway listener'));
      expect(String(failed?.msg)).to.include(`127.0.0.1:${low}`).and.include('net.ipv4.ip_unprivileged_port_start=0');
      expect(logs.find((l) => l.msg === 'gateway listener bound')).to.deep.include({ address: `127.0.0.1:${high}` });
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('close', r));
      ns.remove();
    }
  });
});
