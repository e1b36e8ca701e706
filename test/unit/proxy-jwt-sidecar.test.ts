// Request authentication and external authorization through the real sidecar pieces: an inbound connection
// manager whose http_filters are what translation writes for a RequestAuthentication (jwt_authn + istio_authn),
// a CUSTOM policy (RBAC shadow rules + ext_authz with an HTTP authorizer reached through a cluster) and an ALLOW
// policy on request.auth.principal, encoded to the bundle's bytes and decoded as the sidecar loads them, in front
// of a node:http upstream. Tokens are real (jose), the authorizer is a real server on 127.0.0.1.
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { CryptoKey } from 'jose';
import { jwtFilters } from '../../src/translate/authz/jwt.ts';
import { httpExtAuthzFilter } from '../../src/translate/authz/ext-authz.ts';
import { decodeProxyConfig, encodeProxyConfig } from '../../src/translate/envoy/proto.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import type { RequestAuthentication } from '../../src/api/index.ts';
import { HCM, ROUTER, listener, proxyConfig, routeConfig, vhost } from '../support/envoy-objects.ts';
import { FixtureCluster, FixtureClusters, makeRuntime, startProxy, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { ProxyFront, Upstream } from '../support/proxy-http-fixtures.ts';
import { send } from '../support/proxy-http-client.ts';

type O = Record<string, unknown>;
const RBAC = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const ISS = 'https://issuer.example.com';
const AUTHZ_CLUSTER = 'outbound|8000||ext-authz.foo.svc.cluster.local';

const path = (prefix: string): O => ({ urlPath: { path: { prefix } } });
const rbac = (config: O): O => ({ name: 'envoy.filters.http.rbac', typedConfig: { '@type': RBAC, ...config } });

function sidecarConfig(jwks: string): ProxyConfig {
  const ra = {
    apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name: 'jwt', namespace: 'foo' },
    spec: { jwtRules: [{ issuer: ISS, jwks, outputPayloadToHeader: 'x-jwt-payload' }] },
  } as RequestAuthentication;
  const httpFilters = [
    ...jwtFilters([ra], {}),
    rbac({
      shadowRules: { action: 'ALLOW', policies: { 'istio-ext-authz-ns[foo]-policy[ext]-rule[0]': { permissions: [path('/ext')], principals: [{ any: true }] } } },
      shadowRulesStatPrefix: 'istio_ext_authz_',
    }),
    httpExtAuthzFilter({
      httpService: {
        serverUri: { uri: 'http://ext-authz.foo.svc.cluster.local', cluster: AUTHZ_CLUSTER, timeout: { seconds: 5 } },
        authorizationRequest: { allowedHeaders: { patterns: [{ exact: 'x-ext-authz', ignoreCase: true }] } },
        authorizationResponse: { allowedUpstreamHeaders: { patterns: [{ exact: 'x-user', ignoreCase: true }] } },
      },
      transportApiVersion: 'V3',
      filterEnabledMetadata: {
        filter: 'envoy.filters.http.rbac', path: [{ key: 'istio_ext_authz_shadow_effective_policy_id' }], value: { stringMatch: { prefix: 'istio-ext-authz' } },
      },
    }),
    rbac({
      rules: {
        action: 'ALLOW',
        policies: {
          'ns[foo]-policy[secure]-rule[0]': {
            permissions: [path('/secure')],
            principals: [{ metadata: { filter: 'istio_authn', path: [{ key: 'request.auth.principal' }], value: { stringMatch: { exact: `${ISS}/alice` } } } }],
          },
          'ns[foo]-policy[open]-rule[0]': { permissions: [{ notRule: path('/secure') }], principals: [{ any: true }] },
        },
      },
    }),
    { name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } },
  ];
  const jwtOff = { 'envoy.filters.http.jwt_authn': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig', disabled: true } };
  const rc = routeConfig('inbound', [vhost('in', ['*'], [
    { name: 'public', match: { prefix: '/public' }, route: { cluster: 'app' }, typedPerFilterConfig: jwtOff },
    { name: 'all', match: { prefix: '/' }, route: { cluster: 'app' } },
  ])]);
  const hcm = { name: 'envoy.filters.network.http_connection_manager', typedConfig: { '@type': HCM, statPrefix: 'inbound', rds: { routeConfigName: 'inbound' }, httpFilters } };
  const pc = proxyConfig({ listeners: [listener('virtualInbound', '0.0.0.0', 15006, [{ filters: [hcm] }])], routes: [rc] });
  // As the sidecar gets it: through the bundle's bytes.
  return decodeProxyConfig(encodeProxyConfig(pc));
}

describe('proxy: RequestAuthentication and CUSTOM authorization in the sidecar', function () {
  this.timeout(15_000);
  let up: Upstream;
  let authorizer: http.Server;
  let clusters: FixtureClusters;
  let front: ProxyFront;
  let runtime: ReturnType<typeof makeRuntime>;
  let sign: (claims: O) => Promise<string>;
  let forge: (claims: O) => Promise<string>;
  const checks: http.IncomingHttpHeaders[] = [];

  before(async () => {
    const key = async (kid: string) => {
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      return { privateKey: privateKey as CryptoKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256' } };
    };
    const good = await key('k1');
    const bad = await key('k1');
    const signer = (k: CryptoKey) => (claims: O) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(k);
    sign = signer(good.privateKey);
    forge = signer(bad.privateKey);

    up = await startUpstream((req, res) => res.end(JSON.stringify({ path: req.url, headers: req.headers })));
    authorizer = http.createServer((req, res) => {
      checks.push(req.headers);
      if (req.headers['x-ext-authz'] === 'allow') {
        res.writeHead(200, { 'x-user': 'from-authorizer' });
        res.end();
      } else {
        res.writeHead(403, { 'x-ext-authz-check-result': 'denied' });
        res.end('denied by ext_authz');
      }
    });
    await new Promise<void>((r) => authorizer.listen(0, '127.0.0.1', r));
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster('app', [up.address]));
    clusters.add(new FixtureCluster(AUTHZ_CLUSTER, [`127.0.0.1:${(authorizer.address() as AddressInfo).port}`]));
    runtime = makeRuntime(sidecarConfig(JSON.stringify({ keys: [good.jwk] })), clusters);
    front = await startProxy(runtime, 'http1', 8080, { kind: 'inbound' });
  });
  after(async () => {
    await front.close();
    await clusters.close();
    await up.close();
    authorizer.closeAllConnections();
    await new Promise<void>((r) => authorizer.close(() => r()));
  });

  const exp = () => Math.floor(Date.now() / 1000) + 600;
  const records = async (n: number) => {
    const deadline = Date.now() + 5000;
    while (runtime.telemetry.records.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    return runtime.telemetry.records;
  };

  it('lets requests without a token through and refuses invalid tokens with 401', async () => {
    const before = runtime.telemetry.records.length;
    expect((await send(front.port, '/open')).status).to.equal(200);
    const bad = await send(front.port, '/open?x=1', { headers: { authorization: `Bearer ${await forge({ iss: ISS, sub: 'alice', exp: exp() })}` } });
    expect([bad.status, bad.body]).to.deep.equal([401, 'Jwt verification fails']);
    expect(bad.headers['www-authenticate']).to.equal('Bearer realm="http://example.com/open?x=1", error="invalid_token"');
    const recs = await records(before + 2);
    expect(recs[before + 1]).to.deep.include({ status: 401, details: 'jwt_authn_access_denied{Jwt_verification_fails}' });
    // A route whose PerRouteConfig disables jwt_authn does not look at tokens.
    const off = await send(front.port, '/public/x', { headers: { authorization: `Bearer ${await forge({ iss: ISS, sub: 'alice', exp: exp() })}` } });
    expect(off.status).to.equal(200);
  });

  it('admits the token\'s principal where an ALLOW policy asks for it, and strips the token upstream', async () => {
    expect((await send(front.port, '/secure')).body).to.equal('RBAC: access denied');
    const bob = await send(front.port, '/secure', { headers: { authorization: `Bearer ${await sign({ iss: ISS, sub: 'bob', exp: exp() })}` } });
    expect(bob.status).to.equal(403);
    const token = await sign({ iss: ISS, sub: 'alice', exp: exp() });
    const alice = await send(front.port, '/secure/doc', { headers: { authorization: `Bearer ${token}` } });
    expect(alice.status).to.equal(200);
    const seen = (JSON.parse(alice.body) as { headers: http.IncomingHttpHeaders }).headers;
    expect(seen).to.not.have.property('authorization');
    expect(seen['x-jwt-payload']).to.equal(token.split('.')[1]);
    // A token in the access_token query parameter is taken out of the path the app gets.
    const query = await send(front.port, `/secure/doc?a=1&access_token=${token}&b=2`);
    expect(query.status).to.equal(200);
    expect((JSON.parse(query.body) as { path: string }).path).to.equal('/secure/doc?a=1&b=2');
  });

  it('asks the authorizer for the paths of the CUSTOM policy only, with its verdict and UAEX on denial', async () => {
    checks.length = 0;
    expect((await send(front.port, '/open', { headers: { 'x-ext-authz': 'deny' } })).status).to.equal(200);
    expect(checks).to.have.length(0);
    const allowed = await send(front.port, '/ext/a', { headers: { 'x-ext-authz': 'allow', 'x-user': 'forged' } });
    expect(allowed.status).to.equal(200);
    expect((JSON.parse(allowed.body) as { headers: http.IncomingHttpHeaders }).headers['x-user']).to.equal('from-authorizer');
    const before = runtime.telemetry.records.length;
    const denied = await send(front.port, '/ext/b', { headers: { 'x-ext-authz': 'deny' } });
    expect([denied.status, denied.body, denied.headers['x-ext-authz-check-result']]).to.deep.equal([403, 'denied by ext_authz', 'denied']);
    expect(checks).to.have.length(2);
    const recs = await records(before + 1);
    expect(recs[before]).to.deep.include({ status: 403, flags: ['UAEX'], details: 'ext_authz_denied' });
  });
});
