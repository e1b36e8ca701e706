// The gateway proxy on what translate() writes for a gateway workload, not hand-built objects: a Gateway with an
// HTTP server redirecting to HTTPS, HTTPS SIMPLE and MUTUAL servers with credentialNames and a TLS PASSTHROUGH
// server, VirtualServices bound to it. Only the listener ports (free loopback ports instead of 80/443) and the endpoint
// addresses (a local app instead of pod IPs) are changed. The credentials volume holds the operator's flat keys.
import { expect } from 'chai';
import { get } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { packProxyConfig } from '../../src/controllers/proxy-bundle.ts';
import { translate } from '../../src/translate/index.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { KubeletVolume } from '../support/kubelet-volume.ts';
import { app, deployment, gateway, namespace, snapshotOf, virtualService } from '../support/mesh-fixtures.ts';
import { credentialFiles, hostCert, httpsGet, nameApp, startGateway, webCa } from '../support/proxy-gateway-fixtures.ts';
import { freePort, readAll, tlsBackend } from '../support/proxy-net-fixtures.ts';

type O = Record<string, unknown>;

function gatewayConfig(): ProxyConfig {
  const snap = snapshotOf(
    deployment('weft-ingressgateway', 'weft-system', {
      labels: { app: 'weft-ingressgateway', istio: 'ingressgateway' }, ips: ['10.0.9.1'],
      podOptions: { annotations: { 'weft.dev/proxy-mode': 'gateway' } },
    }),
    // Not injected: the gateway talks plaintext to these endpoints (no auto mTLS to a sidecar).
    { namespaces: [namespace('shop')] },
    app('web', 'shop', { port: 8080, versions: { v1: ['10.0.2.1'] } }),
    app('db', 'shop', { ports: [{ name: 'tls', port: 443 }], versions: { v1: ['10.0.2.2'] } }),
    {
      config: {
        gateways: [gateway('public', 'shop', {
          selector: { istio: 'ingressgateway' },
          servers: [
            { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['shop.example.com'], tls: { httpsRedirect: true } },
            { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['shop.example.com'], tls: { mode: 'SIMPLE', credentialName: 'shop-cert' } },
            { port: { number: 443, name: 'https-partners', protocol: 'HTTPS' }, hosts: ['partners.example.com'], tls: { mode: 'MUTUAL', credentialName: 'partners-cert' } },
            { port: { number: 443, name: 'tls-db', protocol: 'TLS' }, hosts: ['db.example.com'], tls: { mode: 'PASSTHROUGH' } },
          ],
        })],
        virtualServices: [virtualService('web', 'shop', {
          hosts: ['shop.example.com', 'partners.example.com'], gateways: ['public'], http: [{ route: [{ destination: { host: 'web' } }] }],
        }), virtualService('db', 'shop', {
          hosts: ['db.example.com'], gateways: ['public'],
          tls: [{ match: [{ sniHosts: ['db.example.com'], port: 443 }], route: [{ destination: { host: 'db', port: { number: 443 } } }] }],
        })],
      },
    },
  );
  const w = snap.workload('weft-system', 'weft-ingressgateway');
  if (!w) throw new Error('no gateway workload');
  return translate(w, snap);
}

/** The translated config with its listeners moved to loopback ports and each cluster's endpoints pointed at a
 * local address (`apps` by cluster name). */
function onLoopback(pc: ProxyConfig, ports: Record<number, number>, apps: Record<string, string>): ProxyConfig {
  const json = JSON.parse(JSON.stringify(pc)) as ProxyConfig;
  for (const l of json.listeners) {
    const sa = (l.address as { socketAddress: O }).socketAddress;
    const moved = ports[sa.portValue as number];
    if (moved === undefined) throw new Error(`no port for ${String(sa.portValue)}`);
    sa.address = '127.0.0.1';
    sa.portValue = moved;
  }
  for (const cla of json.endpoints) {
    const to = apps[cla.clusterName as string];
    if (!to) continue;
    const [ip, port] = to.split(':');
    for (const group of (cla.endpoints as Array<{ lbEndpoints: Array<{ endpoint: { address: { socketAddress: O } } }> }>)) {
      for (const e of group.lbEndpoints) e.endpoint.address.socketAddress = { address: ip, portValue: Number(port) };
    }
  }
  return json;
}

describe('proxy gateway: translated Gateway config end to end', function () {
  this.timeout(15_000);
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('redirects HTTP, terminates SIMPLE and MUTUAL with the credentials and routes to the VirtualService destination, passes TLS through by SNI', async () => {
    const pc = gatewayConfig();
    expect(pc.listeners.map((l) => l.name)).to.have.members(['0.0.0.0_80', '0.0.0.0_443']);
    const web = await nameApp('web');
    const dbCert = await hostCert(['db.example.com']);
    const db = await tlsBackend('db', dbCert.cert, dbCert.key);
    cleanup.push(() => web.close(), () => db.close());
    const [http, https] = [await freePort(), await freePort()];
    const ca = (await webCa()).certPem;
    const [shop, partners, client] = [await hostCert(['shop.example.com']), await hostCert(['partners.example.com']),
      await hostCert(['client.example.com'], undefined, true)];
    const config = new KubeletVolume();
    const creds = new KubeletVolume();
    cleanup.push(() => config.remove(), () => creds.remove());
    config.write({ 'config.pb.gz': packProxyConfig(onLoopback(pc, { 80: http, 443: https }, {
      'outbound|8080||web.shop.svc.cluster.local': web.address, 'outbound|443||db.shop.svc.cluster.local': db.address,
    })).gzipped });
    creds.write({ ...credentialFiles('shop-cert', shop), ...credentialFiles('partners-cert', { ...partners, ca }) });
    await startGateway({ configDir: config.dir, credentialsDir: creds.dir, cleanup });

    const redirect = await new Promise<[number, string | undefined]>((resolve, reject) => {
      get({ host: '127.0.0.1', port: http, path: '/cart?id=7', headers: { host: 'shop.example.com' }, agent: false }, (res) => {
        res.resume();
        resolve([res.statusCode ?? 0, res.headers.location]);
      }).on('error', reject);
    });
    expect(redirect).to.deep.equal([301, 'https://shop.example.com/cart?id=7']);
    expect(await httpsGet(https, { sni: 'shop.example.com', host: 'shop.example.com', path: '/cart', ca })).to.deep.equal({ body: 'web /cart', serial: shop.serial });
    expect(await httpsGet(https, { sni: 'partners.example.com', host: 'partners.example.com', path: '/p', ca, client })).to.deep.equal({ body: 'web /p', serial: partners.serial });
    expect((await httpsGet(https, { sni: 'partners.example.com', host: 'partners.example.com', ca })).body).to.equal(undefined);
    // PASSTHROUGH: the backend's own certificate, the client's SNI.
    const passthrough = tlsConnect({ host: '127.0.0.1', port: https, servername: 'db.example.com', ca });
    const text = readAll(passthrough);
    await new Promise((r) => passthrough.once('secureConnect', r));
    expect(passthrough.getPeerCertificate().serialNumber).to.equal(dbCert.serial);
    expect(await text).to.equal('db sni=db.example.com');
    // An SNI no server names: no chain, no handshake.
    expect((await httpsGet(https, { sni: 'other.example.com', host: 'shop.example.com', ca })).body).to.equal(undefined);
  });
});
