// The admin endpoint over real HTTP: readiness follows the server state, /config_dump shows the live config
// without key material (an inline PEM key in a cluster's TLS context and the identity key never appear),
// /stats/prometheus serves the registry, and POST /quitquitquit calls back once after answering.
import { expect } from 'chai';
import { compileProxy } from '../../src/proxy/routing/engine.ts';
import { startAdmin } from '../../src/proxy/admin/server.ts';
import type { AdminServer, ServerState } from '../../src/proxy/admin/server.ts';
import { redact } from '../../src/proxy/admin/redact.ts';
import type { Identity, LiveConfig, LoadedConfig } from '../../src/proxy/runtime.ts';
import { createTelemetry } from '../../src/proxy/telemetry/istio.ts';
import { productpageConfig, workloadIdentity } from '../support/proxy-bundles.ts';

const TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

describe('proxy admin server', () => {
  let admin: AdminServer | undefined;
  afterEach(async () => {
    await admin?.close();
    admin = undefined;
  });

  async function setup(state: () => ServerState, onQuit = () => {}) {
    const cert = await workloadIdentity();
    const pc = productpageConfig();
    pc.clusters.push({
      name: 'outbound|443||partner.example.com',
      type: 'STRICT_DNS',
      transportSocket: {
        name: 'envoy.transport_sockets.tls',
        typedConfig: {
          '@type': TLS,
          commonTlsContext: { tlsCertificates: [{ certificateChain: { inlineString: cert.certChainPem }, privateKey: { inlineString: cert.keyPem } }] },
          sni: 'partner.example.com',
        },
      },
    });
    const loaded: LoadedConfig = { version: 'v-test', config: pc, compiled: compileProxy(pc), loadedAt: new Date('2026-11-22T00:00:00Z') };
    const idCert = await workloadIdentity();
    const identity: Identity = { certChain: idCert.certChainPem, key: idCert.keyPem, rootCerts: idCert.rootCertPem, spiffeId: 'spiffe://cluster.local/ns/bookinfo/sa/productpage', notAfter: idCert.notAfter };
    const live: LiveConfig = { current: () => loaded, identity: () => identity, files: { read: () => undefined }, onChange: () => () => {} };
    const telemetry = createTelemetry();
    telemetry.configAccepted('config', 'v-test');
    admin = await startAdmin({ host: '127.0.0.1', port: 0, live, state, metrics: () => telemetry.render(), onQuit });
    const base = `http://127.0.0.1:${admin.port}`;
    return { base, cert, idCert };
  }

  it('answers /ready and /healthz/ready by state', async () => {
    let state: ServerState = 'PRE_INITIALIZING';
    const { base } = await setup(() => state);
    const get = async (p: string) => {
      const r = await fetch(base + p);
      return [r.status, (await r.text()).trim()];
    };
    expect(await get('/ready')).to.deep.equal([503, 'PRE_INITIALIZING']);
    state = 'LIVE';
    expect(await get('/ready')).to.deep.equal([200, 'LIVE']);
    expect(await get('/healthz/ready')).to.deep.equal([200, 'LIVE']);
    state = 'DRAINING';
    expect(await get('/ready')).to.deep.equal([503, 'DRAINING']);
    expect((await fetch(`${base}/nope`)).status).to.equal(404);
  });

  it('dumps the config without private keys', async () => {
    const { base, cert, idCert } = await setup(() => 'LIVE');
    const res = await fetch(`${base}/config_dump`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('application/json');
    const text = await res.text();
    const keyBody = cert.keyPem.split('\n')[1]!;
    expect(text).to.not.include('PRIVATE KEY');
    expect(text).to.not.include(keyBody);
    expect(text).to.not.include(idCert.keyPem.split('\n')[1]!);
    const dump = JSON.parse(text);
    expect(dump.version).to.equal('v-test');
    expect(dump.loadedAt).to.equal('2026-11-22T00:00:00.000Z');
    expect(dump.workload.name).to.equal('productpage-v1');
    expect(dump.listeners.map((l: { name: string }) => l.name)).to.include('virtualOutbound');
    const partner = dump.clusters.find((c: { name: string }) => c.name === 'outbound|443||partner.example.com');
    const tls = partner.transportSocket.typedConfig;
    expect(tls.commonTlsContext.tlsCertificates[0]).to.deep.equal({ certificateChain: { inlineString: '[redacted]' }, privateKey: '[redacted]' });
    expect(tls.sni).to.equal('partner.example.com');
  });

  it('keeps file names and plain values when redacting', () => {
    expect(redact({ tlsCertificates: [{ privateKey: { filename: '/etc/weft/identity/key.pem' } }], other: { inlineString: 'direct response body' } }))
      .to.deep.equal({ tlsCertificates: [{ privateKey: { filename: '/etc/weft/identity/key.pem' } }], other: { inlineString: 'direct response body' } });
  });

  it('serves /stats/prometheus', async () => {
    const { base } = await setup(() => 'LIVE');
    const res = await fetch(`${base}/stats/prometheus`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).to.include('# TYPE istio_requests_total counter\n');
    expect(text).to.include('weft_config_reloads_total{kind="config",result="success"} 1\n');
  });

  it('calls back once on POST /quitquitquit and refuses GET', async () => {
    let quits = 0;
    let quitted: () => void = () => {};
    const quit = new Promise<void>((resolve) => (quitted = resolve));
    // The requests run in the test itself, so that a failed expectation fails it.
    const { base } = await setup(() => 'LIVE', () => {
      quits++;
      quitted();
    });
    expect((await fetch(`${base}/quitquitquit`)).status).to.equal(405);
    await new Promise((r) => setTimeout(r, 20));
    expect(quits, 'a GET quits nothing').to.equal(0);
    const r = await fetch(`${base}/quitquitquit`, { method: 'POST' });
    expect([r.status, await r.text()]).to.deep.equal([200, 'OK\n']);
    expect((await fetch(`${base}/quitquitquit`, { method: 'POST' })).status).to.equal(200);
    await quit;
    await new Promise((r) => setTimeout(r, 20));
    expect(quits).to.equal(1);
  });
});
