// The sidecar's status port: the kubelet's app probes, moved there by the injector, are run against the app over
// loopback and answered with the app's status code (500 when it cannot answer in time); nothing else is served.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { parseProbers } from '../../src/proxy/admin/app-probes.ts';
import { startPublicServer, type AdminServer } from '../../src/proxy/admin/server.ts';

describe('proxy admin: app probes on the status port', () => {
  let app: Server;
  let status: AdminServer;
  const seen: Array<{ url?: string; header?: string }> = [];

  before(async () => {
    app = createServer((req, res) => {
      seen.push({ ...(req.url ? { url: req.url } : {}), ...(typeof req.headers['x-probe'] === 'string' ? { header: req.headers['x-probe'] } : {}) });
      if (req.url === '/slow') return void setTimeout(() => res.end('late'), 1500);
      res.statusCode = req.url === '/healthz' ? 204 : 503;
      res.end();
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const port = (app.address() as AddressInfo).port;
    const probers = parseProbers(JSON.stringify({
      '/app-health/web/livez': { httpGet: { path: '/healthz', port, httpHeaders: [{ name: 'x-probe', value: 'kubelet' }] } },
      '/app-health/web/readyz': { httpGet: { path: '/not-ready', port } },
      '/app-health/web/startupz': { httpGet: { path: '/slow', port }, timeoutSeconds: 1 },
      '/app-health/bad/livez': { exec: { command: ['true'] } },
    }));
    expect([...probers.keys()]).to.deep.equal(['/app-health/web/livez', '/app-health/web/readyz', '/app-health/web/startupz']);
    status = await startPublicServer({ host: '127.0.0.1', port: 0, appProbes: probers });
  });

  after(async () => {
    await status.close();
    await new Promise((r) => app.close(r));
  });

  const get = async (path: string) => (await fetch(`http://127.0.0.1:${status.port}${path}`)).status;

  it('answers with the app\'s status code, sending the probe\'s path and headers', async () => {
    expect(await get('/app-health/web/livez')).to.equal(204);
    expect(seen.at(-1)).to.deep.equal({ url: '/healthz', header: 'kubelet' });
    expect(await get('/app-health/web/readyz')).to.equal(503);
  });

  it('answers 500 when the app does not answer within the probe timeout', async () => {
    // The app would answer 200 after 1.5 s: the 500 shows the one-second timeout cut it off.
    expect(await get('/app-health/web/startupz')).to.equal(500);
  });

  it('serves nothing else: unknown probes, metrics and readiness are 404', async () => {
    expect(await get('/app-health/other/livez')).to.equal(404);
    expect(await get('/stats/prometheus')).to.equal(404);
    expect(await get('/healthz/ready')).to.equal(404);
  });

  it('ignores a malformed probers value', () => {
    expect(parseProbers('{not json').size).to.equal(0);
    expect(parseProbers(undefined).size).to.equal(0);
  });
});
