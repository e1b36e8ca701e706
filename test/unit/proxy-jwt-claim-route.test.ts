// Istio's "JWT claim based routing" on the gateway proxy, from what translate() writes for the gateway workload: a
// RequestAuthentication on the ingress gateway (keys inline), a VirtualService bound to the gateway whose first
// rule matches `@request.auth.claims.groups: {exact: group1}` on /headers and a second one that does not. The
// translated config goes through the bundle's bytes into a real sidecar in gateway mode; tokens are real (jose).
// jwt_authn verifies the token and clears the route cache, istio_authn writes the claims, and the route is chosen
// again with them: a token with group1 reaches the claim route, a token without it and no token the other one.
import { expect } from 'chai';
import { request } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey } from 'jose';
import type { RequestAuthentication } from '../../src/api/index.ts';
import { packProxyConfig } from '../../src/controllers/proxy-bundle.ts';
import { FilterRun, httpChain } from '../../src/proxy/http/filters/chain.ts';
import type { DynamicMetadata } from '../../src/proxy/http/filters/types.ts';
import { httpFiltersOf } from '../../src/proxy/routing/engine.ts';
import { makeHttpRequest } from '../../src/proxy/routing/request.ts';
import type { ConnContext } from '../../src/proxy/runtime.ts';
import { translate } from '../../src/translate/index.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { KubeletVolume } from '../support/kubelet-volume.ts';
import { app, deployment, gateway, namespace, snapshotOf, virtualService } from '../support/mesh-fixtures.ts';
import { nameApp, startGateway } from '../support/proxy-gateway-fixtures.ts';
import { freePort } from '../support/proxy-net-fixtures.ts';
import { FixtureClusters, makeRuntime } from '../support/proxy-http-fixtures.ts';

type O = Record<string, unknown>;
const ISS = 'testing@secure.istio.io';

function gatewayConfig(jwks: string): ProxyConfig {
  const ra = {
    apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication',
    metadata: { name: 'ingress-jwt', namespace: 'weft-system', uid: 'uid-ra', generation: 1, creationTimestamp: new Date('2024-01-01T00:00:00Z') },
    spec: { selector: { matchLabels: { istio: 'ingressgateway' } }, jwtRules: [{ issuer: ISS, jwks }] },
  } as RequestAuthentication;
  const snap = snapshotOf(
    deployment('weft-ingressgateway', 'weft-system', {
      labels: { app: 'weft-ingressgateway', istio: 'ingressgateway' }, ips: ['10.0.9.1'],
      podOptions: { annotations: { 'weft.dev/proxy-mode': 'gateway' } },
    }),
    // Not injected: the gateway talks plaintext to these endpoints.
    { namespaces: [namespace('foo')] },
    app('httpbin', 'foo', { port: 8000, versions: { v1: ['10.0.2.1'] } }),
    app('other', 'foo', { port: 8000, versions: { v1: ['10.0.2.2'] } }),
    {
      config: {
        requestAuthentications: [ra],
        gateways: [gateway('httpbin-gateway', 'foo', {
          selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }],
        })],
        virtualServices: [virtualService('httpbin', 'foo', {
          hosts: ['*'], gateways: ['httpbin-gateway'],
          http: [
            { name: 'group1', match: [{ uri: { prefix: '/headers' }, headers: { '@request.auth.claims.groups': { exact: 'group1' } } }], route: [{ destination: { host: 'httpbin' } }] },
            { name: 'not-admin', match: [{ uri: { prefix: '/nested' }, withoutHeaders: { '@request.auth.claims.org.role': { exact: 'admin' } } }], route: [{ destination: { host: 'httpbin' } }] },
            { name: 'rest', route: [{ destination: { host: 'other' } }] },
          ],
        })],
      },
    },
  );
  return translate(snap.workload('weft-system', 'weft-ingressgateway')!, snap);
}

/** The config with its listener on a loopback port and each cluster's endpoints at a local app. */
function onLoopback(pc: ProxyConfig, port: number, apps: Record<string, string>): ProxyConfig {
  const json = JSON.parse(JSON.stringify(pc)) as ProxyConfig;
  for (const l of json.listeners) (l.address as { socketAddress: O }).socketAddress = { address: '127.0.0.1', portValue: port };
  for (const cla of json.endpoints) {
    const to = apps[cla.clusterName as string];
    if (!to) continue;
    const [ip, p] = to.split(':');
    for (const group of (cla.endpoints as Array<{ lbEndpoints: Array<{ endpoint: { address: { socketAddress: O } } }> }>)) {
      for (const e of group.lbEndpoints) e.endpoint.address.socketAddress = { address: ip, portValue: Number(p) };
    }
  }
  return json;
}

function get(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: 'httpbin.example.com', ...(token ? { authorization: `Bearer ${token}` } : {}) };
    request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}

describe('proxy gateway: VirtualService routes on JWT claims', function () {
  this.timeout(20_000);
  const cleanup: Array<() => unknown> = [];
  let port: number;
  let sign: (claims: O) => Promise<string>;
  let forge: (claims: O) => Promise<string>;
  const exp = () => Math.floor(Date.now() / 1000) + 600;

  before(async () => {
    const key = async () => {
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      return { privateKey: privateKey as CryptoKey, jwk: { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' } };
    };
    const good = await key();
    const bad = await key();
    sign = (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(good.privateKey);
    forge = (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(bad.privateKey);
    const pc = gatewayConfig(JSON.stringify({ keys: [good.jwk] }));
    const httpbin = await nameApp('httpbin');
    const other = await nameApp('other');
    cleanup.push(() => httpbin.close(), () => other.close());
    port = await freePort();
    const config = new KubeletVolume();
    cleanup.push(() => config.remove());
    config.write({ 'config.pb.gz': packProxyConfig(onLoopback(pc, port, {
      'outbound|8000||httpbin.foo.svc.cluster.local': httpbin.address, 'outbound|8000||other.foo.svc.cluster.local': other.address,
    })).gzipped });
    await startGateway({ configDir: config.dir, cleanup });
  });
  after(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('sends a token with the group1 claim to the claim route, and a token without it or no token to the other route', async () => {
    const group1 = await sign({ iss: ISS, sub: 'alice', exp: exp(), groups: ['group1', 'group2'] });
    const group2 = await sign({ iss: ISS, sub: 'bob', exp: exp(), groups: 'group2' });
    expect(await get(port, '/headers', group1)).to.deep.equal({ status: 200, body: 'httpbin /headers' });
    expect(await get(port, '/headers', group2)).to.deep.equal({ status: 200, body: 'other /headers' });
    expect(await get(port, '/headers')).to.deep.equal({ status: 200, body: 'other /headers' });
    // A string claim is a one-item list.
    expect(await get(port, '/headers', await sign({ iss: ISS, sub: 'carol', exp: exp(), groups: 'group1' }))).to.deep.equal({ status: 200, body: 'httpbin /headers' });
    // An invalid token never gets routed: 401.
    expect((await get(port, '/headers', await forge({ iss: ISS, sub: 'alice', exp: exp(), groups: ['group1'] }))).status).to.equal(401);
  });

  it('routes withoutHeaders on a nested claim: the route is taken unless the claim matches', async () => {
    const admin = await sign({ iss: ISS, sub: 'a', exp: exp(), org: { role: 'admin' } });
    const user = await sign({ iss: ISS, sub: 'u', exp: exp(), org: { role: 'user' } });
    expect((await get(port, '/nested', admin)).body).to.equal('other /nested');
    expect((await get(port, '/nested', user)).body).to.equal('httpbin /nested');
    expect((await get(port, '/nested')).body).to.equal('httpbin /nested');
  });

  it('chooses the route again only after jwt_authn put a verified payload in the metadata, with istio_authn\'s claims', async () => {
    const pc = gatewayConfig(JSON.stringify({ keys: [] }));
    const hcm = (pc.listeners[0]!.filterChains as Array<{ filters: Array<{ typedConfig: O }> }>)[0]!.filters[0]!.typedConfig;
    const chain = httpChain(httpFiltersOf(hcm), makeRuntime(pc, new FixtureClusters()));
    expect(chain.names[0]).to.equal('envoy.filters.http.jwt_authn');
    expect(chain.clearsRoute?.map((k) => k ?? null)).to.deep.equal([{ metadataKeys: [ISS], headers: [] }, ...chain.names.slice(1).map(() => null)]);
    const asked: DynamicMetadata[] = [];
    const walk = (headers: Record<string, string>, payload?: O) => new Promise<string | undefined>((resolve) => {
      const run: FilterRun = new FilterRun(chain, {
        answered: false,
        filterReply: (r) => resolve(`reply ${r.status}`),
        filterFlag: () => {},
        filterFailed: (err) => resolve(String(err)),
        routerStep: () => resolve(run.route.route),
        reroute: (metadata) => {
          asked.push(new Map(metadata));
          return { route: 'again', action: { kind: 'no-route' } };
        },
      }, makeRuntime(pc, new FixtureClusters()), { kind: 'gateway' } as ConnContext, makeHttpRequest({ host: 'a', path: '/headers', headers }), { route: 'first', action: { kind: 'no-route' } });
      // Stand in for a verified token: the payload as jwt_authn writes it, then let istio_authn run.
      if (payload) run.metadata.set('envoy.filters.http.jwt_authn', { [ISS]: payload });
      run.step();
    });
    expect(await walk({})).to.equal('first');
    expect(asked).to.have.length(0);
    // jwt_authn (index 0) finds no token and passes; the payload put in beforehand still counts as its output.
    expect(await walk({}, { iss: ISS, sub: 'a', groups: ['group1'] })).to.equal('again');
    expect(asked).to.have.length(1);
    expect(asked[0]!.get('istio_authn')?.['request.auth.claims']).to.deep.equal({ groups: ['group1'], iss: [ISS], sub: ['a'] });
  });
});
