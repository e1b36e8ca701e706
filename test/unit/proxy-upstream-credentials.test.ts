// Upstream TLS by SDS name, as a DestinationRule's credentialName writes it (an egress gateway originating
// MUTUAL TLS): the client certificate of `kubernetes://<name>` is presented, the server is checked against the
// CA of `<name>-cacert`, both read from the credentials directory, and a rotated client certificate reaches the
// next connection. A bare `<name>` means the same Secret.
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { expect } from 'chai';
import { createCa } from '../../src/pki/certs.ts';
import { CREDENTIALS_DIR } from '../../src/proxy/config/credentials.ts';
import { createClusterManager } from '../../src/proxy/upstream/index.ts';
import type { WeftClusterManager } from '../../src/proxy/upstream/index.ts';
import { hostCert, webCa } from '../support/proxy-gateway-fixtures.ts';
import { loaded, mapFiles, staticCluster } from '../support/proxy-upstream-fixtures.ts';

const TLS_CONTEXT = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

function originate(name: string, san: string): Record<string, unknown> {
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: {
      '@type': TLS_CONTEXT,
      sni: 'api.example.com',
      commonTlsContext: {
        tlsCertificateSdsSecretConfigs: [{ name }],
        combinedValidationContext: { defaultValidationContext: { matchSubjectAltNames: [{ exact: san }] }, validationContextSdsSecretConfig: { name: `${name}-cacert` } },
      },
    },
  };
}

describe('proxy upstream: TLS origination with credentials by SDS name', function () {
  this.timeout(10_000);
  let manager: WeftClusterManager | undefined;
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await manager?.close();
    manager = undefined;
    for (const c of closers.splice(0)) await c();
  });

  it('presents the credential\'s client certificate and verifies the server with its CA', async () => {
    const ca = await webCa();
    const server = await hostCert(['api.example.com']);
    const seen: string[] = [];
    const https = createHttpsServer({ cert: server.cert, key: server.key, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (_req, res) => res.end('ok'));
    https.on('secureConnection', (s: TLSSocket) => seen.push(s.getPeerCertificate().serialNumber));
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => { https.closeAllConnections(); https.close(() => r()); }));
    const address = `127.0.0.1:${(https.address() as AddressInfo).port}`;
    const [first, second] = [await hostCert(['egress.example.com'], ca, true), await hostCert(['egress.example.com'], ca, true)];
    const files = mapFiles({
      [`${CREDENTIALS_DIR}/client.tls.crt`]: first.cert, [`${CREDENTIALS_DIR}/client.tls.key`]: first.key, [`${CREDENTIALS_DIR}/client.ca.crt`]: ca.certPem,
    });
    manager = createClusterManager();
    manager.update(loaded([
      staticCluster('sds', [address], { transportSocket: originate('kubernetes://client', 'api.example.com') }),
      staticCluster('bare', [address], { transportSocket: originate('client', 'api.example.com') }),
      staticCluster('wrong-san', [address], { transportSocket: originate('kubernetes://client', 'other.example.com') }),
    ]), files);
    const request = async (name: string) => {
      const c = manager!.get(name)!;
      const res = await c.dispatcher(c.pick({})!).request({ method: 'GET', path: '/' });
      return res.body.text();
    };
    expect(await request('sds')).to.equal('ok');
    expect(await request('bare')).to.equal('ok');
    expect(seen).to.deep.equal([first.serial, first.serial]);
    const wrong = manager.get('wrong-san')!;
    const err = await wrong.connect(wrong.pick({})!).then(() => undefined, (e: Error & { code?: string }) => e);
    expect(err?.code).to.equal('tls');
    // A rotated client certificate: the next connection presents it.
    files.set(`${CREDENTIALS_DIR}/client.tls.crt`, second.cert);
    files.set(`${CREDENTIALS_DIR}/client.tls.key`, second.key);
    const c = manager.get('sds')!;
    const socket = await c.connect(c.pick({})!);
    const end = Date.now() + 2000;
    while (!seen.includes(second.serial) && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    socket.destroy();
    expect(seen).to.include(second.serial);
    // A server certificate from another CA is refused.
    files.set(`${CREDENTIALS_DIR}/client.ca.crt`, (await createCa('another CA')).certPem);
    const refused = await c.connect(c.pick({})!).then(() => undefined, (e: Error & { code?: string }) => e);
    expect(refused?.code).to.equal('tls');
  });
});
