// The whole sidecar in one process with its real parts (live config, cluster manager, HTTP handler, listeners,
// admin, telemetry): a request through an explicit listener reaches the app and is counted and logged; a new
// config swapped into the volume moves traffic to another app; on shutdown /ready turns 503, new connections
// are refused, and a request in flight still finishes with 200 before shutdown resolves.
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { packProxyConfig } from '../../src/controllers/proxy-bundle.ts';
import { createLogger, silentLogger } from '../../src/controllers/log.ts';
import { defaultParts } from '../../src/proxy/sidecar-parts.ts';
import { startSidecar } from '../../src/proxy/sidecar.ts';
import type { Sidecar } from '../../src/proxy/sidecar.ts';
import { eventually, KubeletVolume } from '../support/kubelet-volume.ts';
import { loopbackConfig as configTo } from '../support/proxy-bundles.ts';

interface App {
  server: http.Server;
  port: number;
  slowArrived: boolean;
}

async function startApp(name: string): Promise<App> {
  const app: App = { server: http.createServer(), port: 0, slowArrived: false };
  app.server.on('request', (req, res) => {
    if (req.url === '/slow') {
      app.slowArrived = true;
      setTimeout(() => res.end(`${name} slow`), 150);
    } else res.end(name);
  });
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  app.port = (app.server.address() as AddressInfo).port;
  return app;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host: 'reviews:9080' }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

describe('proxy sidecar: wiring, reload and drain', function () {
  this.timeout(10_000);
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('serves through an explicit listener, follows a new config, and drains an in-flight request', async () => {
    const a = await startApp('app-a');
    const b = await startApp('app-b');
    cleanup.push(() => a.server.close(), () => b.server.close());
    const vol = new KubeletVolume();
    cleanup.push(() => vol.remove());
    vol.write({ 'config.pb.gz': packProxyConfig(configTo(a.port)).gzipped });
    const logged: string[] = [];
    const sidecar: Sidecar = await startSidecar({
      configDir: vol.dir,
      admin: { host: '127.0.0.1', port: 0 },
      listeners: { capture: 'none', outboundPort: 15001, inboundPort: 15006, gateway: false,
        explicit: [{ bindHost: '127.0.0.1', bindPort: 0, direction: 'outbound', destinationIp: '10.96.0.5', destinationPort: 9080 }] },
      drainTimeoutMs: 2000,
      accessLog: (chunk) => logged.push(chunk),
      log: process.env.DEBUG_SIDECAR ? createLogger('t', { level: 'debug' }) : silentLogger,
      parts: defaultParts(process.env.DEBUG_SIDECAR ? createLogger('net', { level: 'debug' }) : undefined),
      pollMs: 50,
    });
    cleanup.push(() => sidecar.shutdown('test cleanup'));
    await sidecar.ready();
    const admin = `http://127.0.0.1:${sidecar.admin.port}`;
    expect((await fetch(`${admin}/ready`)).status).to.equal(200);
    const port = sidecar.listeners().find((l) => l.name.startsWith('explicit'))!.port;

    expect(await get(port, '/')).to.deep.equal({ status: 200, body: 'app-a' });
    const metrics = await (await fetch(`${admin}/stats/prometheus`)).text();
    expect(metrics).to.match(/istio_requests_total\{reporter="source",source_workload="client-v1",[^}]*response_code="200"[^}]*\} 1\n/);

    vol.write({ 'config.pb.gz': packProxyConfig(configTo(b.port)).gzipped });
    await eventually(() => sidecar.telemetry.reloads('config', 'success') === 2, 3000, 'the new config');
    expect(await get(port, '/')).to.deep.equal({ status: 200, body: 'app-b' });

    const slow = get(port, '/slow');
    await eventually(() => b.slowArrived, 3000, 'the slow request at the app');
    const stopped = sidecar.shutdown('SIGTERM');
    expect(sidecar.state()).to.equal('DRAINING');
    const during = await fetch(`${admin}/ready`).then((r) => r.status, () => 'closed');
    expect(during).to.equal(503);
    expect(await slow).to.deep.equal({ status: 200, body: 'app-b slow' });
    await stopped;
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve(false); });
      s.on('error', () => resolve(true));
    });
    expect(refused).to.equal(true);
    const lines = logged.join('').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.path, l.response_code, l.upstream_cluster])).to.deep.equal([['/', 200, 'app'], ['/', 200, 'app'], ['/slow', 200, 'app']]);
  });
});
