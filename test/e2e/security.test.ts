// Istio's security tasks as acceptance tests, on each tier (test/support/e2e-tiers.ts): the pages' YAML applied
// with kubectl (unchanged but where test/e2e/security-manifests.ts says why), and the outcomes the pages state,
// through real sidecars and the ingress gateway: authz-http (bookinfo, step by step from allow-nothing), authz-tcp,
// authz-deny, authz-ingress (ipBlocks / remoteIpBlocks), authz-jwt and authn-policy's end-user authentication,
// authz-dry-run and authz-custom (the ext-authz sample through the mesh config's extensionProviders).
// Each step waits (generously) for the policy to reach the proxies, then checks the page's outcome exactly.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { apply, readyPods, type PodRef } from '../support/e2e-mesh.ts';
import type { MeshTarget } from '../support/e2e-target.ts';
import { e2eTiers, TIER_START_MS } from '../support/e2e-tiers.ts';
import {
  AUDIT_HEADERS, AUTHZ_DENY, AUTHZ_HTTP, DENY_HEADERS_PATH, EXT_AUTHZ_TCP, AUTHZ_JWT, AUTHZ_TCP, bookinfoDefault, DEMO_CLAIMS, DRY_RUN, extAuthzPolicy, FOO, fooWorkloads,
  FRONTEND_INGRESS, GATEWAY_NS, GROUPS_CLAIMS, HOSTS, httpbinGateway, ingressPolicy, jwtClaimToHeader, jwtExample, JWT_ROUTE, MESH_WITH_EXT_AUTHZ,
} from './security-manifests.ts';
import { containerLog, curlFrom, edge, kubectlOk, ncFrom, rsaSigner, sidecarMetrics, until, type Answer, type Signer } from './security-support.ts';

const HTTPBIN = 'http://httpbin.foo:8000';
const DENIED = 'RBAC: access denied';
/** Answers in a row before a change counts as arrived at the ingress gateway (two replicas behind its Service). */
const GW_TIMES = 4;
const json = (a: Answer): any => { try { return JSON.parse(a.body ?? ''); } catch { return undefined; } };
const succeeded = (r: { reply?: string }) => /hello/.test(r.reply ?? '');

for (const tier of e2eTiers()) describe(`e2e [${tier.name}]: Istio's security tasks`, function () {
  this.timeout(300_000);
  let t: MeshTarget;
  let curl: PodRef;
  let httpbin: PodRef;
  let tcpEcho: PodRef;
  let ingressIp: string;
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => curlFrom(t, FOO, curl.name, `${HTTPBIN}${path}`, { method, headers });
  const status = async (path: string, headers: Record<string, string> = {}, method = 'GET') => (await get(path, headers, method)).status;
  const nc = (host: string, port: number) => ncFrom(t, FOO, curl.name, host, port, `port ${port}`);
  /** Deletes the policies a task left in `ns` and waits until curl → httpbin answers 200 again. */
  const reset = async (ns = FOO) => {
    await kubectlOk(t, ['delete', 'authorizationpolicies.security.istio.io,requestauthentications.security.istio.io', '--all', '-n', ns, '--ignore-not-found']);
    await until('httpbin answers again without policies', () => status('/headers'), (s) => s === 200);
  };

  before(async function () {
    this.timeout(TIER_START_MS);
    const m = tier.target();
    if ('skip' in m) {
      console.log(`      skipped: ${m.skip}`);
      return this.skip();
    }
    t = await m;
    await apply(t, fooWorkloads());
    // A cluster that outlived an interrupted run may still hold this suite's policies: start from none.
    await kubectlOk(t, ['delete', 'authorizationpolicies.security.istio.io,requestauthentications.security.istio.io', '--all', '-n', FOO, '--ignore-not-found']);
    await kubectlOk(t, ['delete', 'authorizationpolicies.security.istio.io', 'ingress-policy', 'frontend-ingress', '-n', GATEWAY_NS, '--ignore-not-found']);
    await kubectlOk(t, ['delete', 'requestauthentications.security.istio.io', 'jwt-example', 'ingress-jwt', '-n', GATEWAY_NS, '--ignore-not-found']);
    await apply(t, httpbinGateway());
    [curl] = (await readyPods(t, FOO, 'app=curl', 1, 180_000)) as [PodRef];
    [httpbin] = (await readyPods(t, FOO, 'app=httpbin', 1, 180_000)) as [PodRef];
    [tcpEcho] = (await readyPods(t, FOO, 'app=tcp-echo', 1, 180_000)) as [PodRef];
    await readyPods(t, FOO, 'app=ext-authz', 1, 180_000);
    await until('curl → httpbin.foo:8000/ip answers 200', () => status('/ip'), (s) => s === 200);
    ingressIp = process.env.WEFT_E2E_INGRESS ?? '';
    await until('the ingress gateway address', async () => {
      ingressIp ||= (await t.kubectl(['get', 'service', 'weft-ingressgateway', '-n', GATEWAY_NS, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).stdout;
      return ingressIp;
    }, (ip) => ip.length > 0);
  });

  describe('authz-http: bookinfo in namespace default, from allow-nothing to every service allowed', () => {
    const page = () => edge(ingressIp, HOSTS.bookinfo, '/productpage');
    before(async () => {
      await kubectlOk(t, ['label', 'namespace', 'default', 'weft-injection=enabled', '--overwrite']);
      await apply(t, bookinfoDefault());
      for (const app of ['productpage', 'details', 'reviews', 'ratings']) await readyPods(t, 'default', `app=${app}`, 1, 180_000);
      await until('the whole product page through the ingress gateway', page, (a) => json(a)?.reviews?.ratings?.service === 'ratings');
    });
    after(async () => {
      if (!t) return;
      // Namespace default is the user's on a real cluster: leave it as it was found.
      await kubectlOk(t, ['delete', 'authorizationpolicies.security.istio.io', '--all', '-n', 'default', '--ignore-not-found']);
      await kubectlOk(t, ['delete', '-f', '-', '--ignore-not-found', '--wait=false'], bookinfoDefault());
      await kubectlOk(t, ['label', 'namespace', 'default', 'weft-injection-']);
    });

    it('allow-nothing: the product page answers 403 "RBAC: access denied"', async () => {
      await apply(t, AUTHZ_HTTP.allowNothing);
      const a = await until('allow-nothing denies productpage', page, (x) => x.status === 403);
      expect(a.body).to.equal(DENIED);
    });

    it('productpage-viewer: the page loads (GET), details and reviews are denied to it', async () => {
      await apply(t, AUTHZ_HTTP.productpageViewer);
      const a = await until('productpage-viewer allows GET', page, (x) => x.status === 200);
      const p = json(a);
      expect(p.details).to.deep.include({ status: 403, body: DENIED });
      expect(p.reviews).to.deep.include({ status: 403, body: DENIED });
      // Only GET is allowed: another method is refused at productpage itself.
      const post = await until('POST refused', () => curlFrom(t, FOO, curl.name, 'http://productpage.default:9080/productpage', { method: 'POST' }), (x) => x.status !== undefined);
      expect(post.status).to.equal(403);
    });

    it('details-viewer: details answer productpage (its principal), reviews still denied', async () => {
      await apply(t, AUTHZ_HTTP.detailsViewer);
      const a = await until('details-viewer', page, (x) => json(x)?.details?.service === 'details');
      expect(json(a).reviews).to.deep.include({ status: 403, body: DENIED });
      // Another principal (the curl pod in foo) is not allowed by details-viewer.
      const other = await curlFrom(t, FOO, curl.name, 'http://details.default:9080/details/0');
      expect(other.status).to.equal(403);
    });

    it('reviews-viewer: reviews answer, its ratings call is denied ("Ratings service currently unavailable")', async () => {
      await apply(t, AUTHZ_HTTP.reviewsViewer);
      const a = await until('reviews-viewer', page, (x) => json(x)?.reviews?.service === 'reviews');
      expect(json(a).reviews.ratings).to.deep.include({ status: 403, body: DENIED });
    });

    it('ratings-viewer: the whole page again, ratings from reviews\' principal', async () => {
      await apply(t, AUTHZ_HTTP.ratingsViewer);
      const a = await until('ratings-viewer', page, (x) => json(x)?.reviews?.ratings?.service === 'ratings');
      expect(json(a).details.service).to.equal('details');
    });
  });

  describe('authz-tcp: tcp-echo on 9000, 9001 and 9002 (by pod IP, a passthrough chain)', () => {
    after(() => t && reset());

    it('connects to all three ports without a policy', async () => {
      await until('tcp-echo:9000 reachable from curl', () => nc('tcp-echo', 9000), succeeded);
      expect(succeeded(await nc('tcp-echo', 9001))).to.equal(true);
      expect((await nc(tcpEcho.ip, 9002)).reply).to.equal('hello port 9002\n');
    });

    it('ALLOW ports 9000, 9001: those connect, 9002 is closed without an answer', async () => {
      await apply(t, AUTHZ_TCP.allowPorts);
      await until('port 9002 rejected', () => nc(tcpEcho.ip, 9002), (r) => !succeeded(r));
      expect((await nc('tcp-echo', 9000)).reply).to.equal('hello port 9000\n');
      expect((await nc('tcp-echo', 9001)).reply).to.equal('hello port 9001\n');
    });

    it('ALLOW with an HTTP-only field (methods) never matches TCP: 9000 and 9001 rejected', async () => {
      await apply(t, AUTHZ_TCP.allowGetOn9000);
      await until('port 9000 rejected', () => nc('tcp-echo', 9000), (r) => !succeeded(r));
      expect(succeeded(await nc('tcp-echo', 9001))).to.equal(false);
    });

    it('DENY methods GET: the HTTP-only field is dropped, so DENY matches every TCP connection', async () => {
      // The previous ALLOW rejected both ports too, so this step would show nothing new: the policy is removed
      // first (both connect) so that the DENY is seen arriving. The page replaces it in place; same end state.
      await kubectlOk(t, ['delete', 'authorizationpolicy', 'tcp-policy', '-n', FOO]);
      await until('both ports connect without the policy', () => nc('tcp-echo', 9000), succeeded);
      await apply(t, AUTHZ_TCP.denyGet);
      await until('DENY rejects port 9000', () => nc('tcp-echo', 9000), (r) => !succeeded(r));
      expect(succeeded(await nc('tcp-echo', 9001))).to.equal(false);
    });

    it('DENY methods GET on port 9000: 9000 rejected, 9001 connects', async () => {
      await apply(t, AUTHZ_TCP.denyGetOn9000);
      const r = await until('port 9001 connects again', () => nc('tcp-echo', 9001), succeeded);
      expect(r.reply).to.equal('hello port 9001\n');
      expect(succeeded(await nc('tcp-echo', 9000))).to.equal(false);
    });
  });

  describe('authz-deny: DENY over ALLOW on httpbin', () => {
    after(() => t && reset());

    it('deny-method-get: GET 403, POST 200', async () => {
      await apply(t, AUTHZ_DENY.denyGet);
      const a = await until('GET denied', () => get('/get'), (x) => x.status === 403);
      expect(a.body).to.equal(DENIED);
      expect(await status('/post', {}, 'POST')).to.equal(200);
    });

    it('notValues ["admin"] on x-token: GET with x-token: admin 200, x-token: guest 403', async () => {
      await apply(t, AUTHZ_DENY.denyGetUnlessAdmin);
      await until('x-token: admin allowed', () => status('/get', { 'x-token': 'admin' }), (s) => s === 200);
      expect(await status('/get', { 'x-token': 'guest' })).to.equal(403);
    });

    it('allow-path-ip: /ip as guest 403 (DENY first), /ip as admin 200, /get as admin 403 (no ALLOW matches)', async () => {
      await apply(t, AUTHZ_DENY.allowPathIp);
      await until('/get as admin denied by allow-path-ip', () => status('/get', { 'x-token': 'admin' }), (s) => s === 403);
      expect(await status('/ip', { 'x-token': 'guest' })).to.equal(403);
      expect(await status('/ip', { 'x-token': 'admin' })).to.equal(200);
    });
  });

  describe('path normalization (weft\'s default DECODE_AND_MERGE_SLASHES; not a task page)', () => {
    after(() => t && reset());

    it('a DENY on /headers also denies //headers and /%2Fheaders; /ip passes', async () => {
      await apply(t, DENY_HEADERS_PATH);
      await until('/headers denied', () => status('/headers'), (s) => s === 403);
      // Dot segments are resolved by the client's own URL parser before sending, so they are not tried here.
      for (const path of ['//headers', '/%2Fheaders', '/%2f%2Fheaders', '///headers']) {
        const a = await get(path);
        expect([path, a.status, a.body]).to.deep.equal([path, 403, DENIED]);
      }
      expect(await status('/ip')).to.equal(200);
    });
  });

  describe('authz-ingress: source IPs at the ingress gateway', () => {
    const headers = () => edge(ingressIp, HOSTS.httpbin, '/headers');
    let clientIp = '';
    before(async () => {
      // The page reads the client's address from the gateway's access log; the gateway's x-forwarded-for (it is
      // the edge, so it appends its peer) as httpbin echoes it says the same.
      const a = await until('httpbin through the ingress gateway', headers, (x) => x.status === 200);
      const xff = String(json(a)?.headers?.['x-forwarded-for'] ?? '');
      clientIp = xff.split(',').pop()!.trim();
      expect(clientIp, `x-forwarded-for: ${xff}`).to.match(/^[\d.]+$|:/);
    });
    after(async () => {
      if (!t) return;
      await kubectlOk(t, ['delete', 'authorizationpolicy', 'ingress-policy', '-n', GATEWAY_NS, '--ignore-not-found']);
      await until('the gateway admits again', headers, (x) => x.status === 200);
    });

    for (const field of ['ipBlocks', 'remoteIpBlocks'] as const) {
      it(`ALLOW ${field} without the client's address: 403; with it: 200`, async () => {
        await apply(t, ingressPolicy('ALLOW', field, ['1.2.3.4', '5.6.7.0/24']));
        const a = await until(`ALLOW ${field} [1.2.3.4, 5.6.7.0/24] denies`, headers, (x) => x.status === 403, 90_000, GW_TIMES);
        expect(a.body).to.equal(DENIED);
        await apply(t, ingressPolicy('ALLOW', field, ['1.2.3.4', '5.6.7.0/24', clientIp]));
        await until(`ALLOW ${field} with ${clientIp} admits`, headers, (x) => x.status === 200, 90_000, GW_TIMES);
      });

      it(`DENY ${field} [client]: 403`, async () => {
        await apply(t, ingressPolicy('DENY', field, [clientIp]));
        const a = await until(`DENY ${field} ${clientIp}`, headers, (x) => x.status === 403, 90_000, GW_TIMES);
        expect(a.body).to.equal(DENIED);
        await kubectlOk(t, ['delete', 'authorizationpolicy', 'ingress-policy', '-n', GATEWAY_NS]);
        await until('admitted without the policy', headers, (x) => x.status === 200, 90_000, GW_TIMES);
      });
    }
  });

  describe('authz-jwt: RequestAuthentication and requestPrincipals / claims on httpbin', () => {
    let key: Signer;
    let token: string;
    let tokenGroup: string;
    const bearer = (tk: string) => ({ authorization: `Bearer ${tk}` });
    before(async () => {
      key = await rsaSigner('weft-e2e-key');
      token = await key.sign(DEMO_CLAIMS);
      tokenGroup = await key.sign(GROUPS_CLAIMS);
    });
    after(() => t && reset());

    it('jwt-example: an invalid token 401, no token 200', async () => {
      await apply(t, jwtExample(key.jwks));
      const a = await until('invalid token refused', () => get('/headers', bearer('invalidToken')), (x) => x.status === 401);
      // Envoy's jwt_authn answers with its status message: "invalidToken" is not even a JWT.
      expect(a.body).to.equal('Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections');
      expect(a.headers?.['www-authenticate'] ?? '').to.match(/^Bearer realm=/);
      expect(await status('/headers')).to.equal(200);
      expect(await status('/headers', bearer(token))).to.equal(200);
    });

    it('require-jwt: the page\'s token 200, no token 403', async () => {
      await apply(t, AUTHZ_JWT.requireJwt);
      const a = await until('no token denied', () => get('/headers'), (x) => x.status === 403);
      expect(a.body).to.equal(DENIED);
      expect(await status('/headers', bearer(token))).to.equal(200);
    });

    it('claims: groups contains group1 — the groups token 200, the demo token (no groups) 403', async () => {
      await apply(t, AUTHZ_JWT.requireGroup1);
      await until('demo token denied', () => status('/headers', bearer(token)), (s) => s === 403);
      expect(await status('/headers', bearer(tokenGroup))).to.equal(200);
    });

    it('a token signed by another key is 401 "Jwt verification fails", an expired one 401 "Jwt is expired"', async () => {
      const other = await rsaSigner('weft-e2e-key');
      const forged = await get('/headers', bearer(await other.sign(DEMO_CLAIMS)));
      expect([forged.status, forged.body]).to.deep.equal([401, 'Jwt verification fails']);
      const now = Math.floor(Date.now() / 1000);
      // Past exp by more than Envoy's default 60 s clock skew.
      const expired = await get('/headers', bearer(await key.sign({ ...GROUPS_CLAIMS, iat: now - 600, exp: now - 120 })));
      expect([expired.status, expired.body]).to.deep.equal([401, 'Jwt is expired']);
    });

    it('jwksUri: keys the operator fetched (local cluster: a JWKS server on this machine\'s loopback)', async function () {
      // The page's jwksUri is on GitHub; here a loopback server the operator (a local process) can reach.
      if (!t.local) {
        console.log('      skipped: the operator of this tier cannot reach a server on this machine\'s loopback');
        return this.skip();
      }
      const served = await rsaSigner('weft-e2e-served');
      const servedToken = await served.sign(DEMO_CLAIMS);
      const server: Server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(served.jwks));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
        await apply(t, AUTHZ_JWT.requireJwt);
        await apply(t, jwtExample('', { jwksUri: uri }));
        await until('a token signed with the served key', () => status('/headers', bearer(servedToken)), (s) => s === 200);
        expect(await status('/headers', bearer(token)), 'a token of the inline key, no longer configured').to.equal(401);
      } finally {
        server.close();
      }
    });
  });

  describe('claim-to-header: a JWT claim copied into a request header', () => {
    after(() => t && reset());

    it('outputClaimToHeaders: the page\'s token reaches httpbin with X-Jwt-Claim-Foo: bar (and without the token)', async () => {
      const key = await rsaSigner('weft-e2e-claims');
      const token = await key.sign(DEMO_CLAIMS);
      await apply(t, jwtClaimToHeader(key.jwks));
      await until('invalid token refused', () => status('/headers', { authorization: 'Bearer invalidToken' }), (s) => s === 401);
      const a = await get('/headers', { authorization: `Bearer ${token}` });
      expect(a.status).to.equal(200);
      const echoed = json(a).headers as Record<string, string>;
      expect(echoed['x-jwt-claim-foo']).to.equal('bar');
      // forwardOriginalToken is false by default: the token is not passed on to the app.
      expect(echoed).to.not.have.property('authorization');
    });
  });

  describe('authn-policy end-user authentication: JWT at the ingress gateway', () => {
    let key: Signer;
    const headers = (path: string, tk?: string) => edge(ingressIp, HOSTS.httpbin, path, tk ? { authorization: `Bearer ${tk}` } : {});
    before(async () => {
      key = await rsaSigner('weft-e2e-ingress');
    });
    after(async () => {
      if (!t) return;
      await kubectlOk(t, ['delete', 'requestauthentication', 'jwt-example', '-n', GATEWAY_NS, '--ignore-not-found']);
      await kubectlOk(t, ['delete', 'authorizationpolicy', 'frontend-ingress', '-n', GATEWAY_NS, '--ignore-not-found']);
      await until('the gateway admits again', () => headers('/headers'), (x) => x.status === 200);
    });

    it('jwt-example on the gateway: no token 200, "deadbeef" 401, a valid token 200, an expired one 401', async () => {
      await apply(t, jwtExample(key.jwks, { namespace: GATEWAY_NS, selector: 'istio: ingressgateway' }));
      await until('deadbeef refused', () => headers('/headers', 'deadbeef'), (x) => x.status === 401, 90_000, GW_TIMES);
      expect((await headers('/headers')).status).to.equal(200);
      const valid = await key.sign(DEMO_CLAIMS);
      expect((await headers('/headers', valid)).status).to.equal(200);
      // The page waits ~70 s for a 5 s token to expire (Envoy's 60 s clock skew); this one is already past both.
      const now = Math.floor(Date.now() / 1000);
      const expired = await key.sign({ iss: 'testing@secure.istio.io', sub: 'testing@secure.istio.io', iat: now - 600, exp: now - 65 });
      expect((await headers('/headers', expired)).status).to.equal(401);
    });

    it('frontend-ingress DENY notRequestPrincipals ["*"]: no token 403; per path: /headers 403, /ip 200', async () => {
      await apply(t, FRONTEND_INGRESS.requireToken);
      const a = await until('a request without a token denied', () => headers('/headers'), (x) => x.status === 403, 90_000, GW_TIMES);
      expect(a.body).to.equal(DENIED);
      expect((await headers('/headers', await key.sign(DEMO_CLAIMS))).status).to.equal(200);
      await apply(t, FRONTEND_INGRESS.requireTokenOnHeaders);
      await until('/ip without a token admitted', () => headers('/ip'), (x) => x.status === 200, 90_000, GW_TIMES);
      expect((await headers('/headers')).status).to.equal(403);
    });
  });

  describe('jwt-route: routing at the ingress gateway by a JWT claim', () => {
    let key: Signer;
    const headers = (tk?: string) => edge(ingressIp, HOSTS.httpbin, '/headers', tk ? { authorization: `Bearer ${tk}` } : {});
    after(async () => {
      if (!t) return;
      await kubectlOk(t, ['delete', 'requestauthentication', 'ingress-jwt', '-n', GATEWAY_NS, '--ignore-not-found']);
      await apply(t, httpbinGateway());
      await until('the plain route again', () => headers(), (x) => x.status === 200, 90_000, GW_TIMES);
    });

    it('@request.auth.claims.groups exact group1: no token 404, a bad token 401, group1 200, no groups 404', async () => {
      key = await rsaSigner('weft-e2e-route');
      await apply(t, jwtExample(key.jwks, { namespace: GATEWAY_NS, selector: 'istio: ingressgateway' }).replace('"jwt-example"', 'ingress-jwt'));
      await apply(t, JWT_ROUTE);
      await until('a bad token refused at the gateway', () => headers('some.invalid.token'), (x) => x.status === 401, 90_000, GW_TIMES);
      // The VirtualService may reach the gateway after the RequestAuthentication: wait for the claim-only route.
      await until('the claim route in place (no token: no route)', () => headers(), (x) => x.status === 404, 90_000, GW_TIMES);
      const group = await key.sign(GROUPS_CLAIMS);
      const noGroup = await key.sign(DEMO_CLAIMS);
      const outcome = { none: (await headers()).status, group1: (await headers(group)).status, noGroup: (await headers(noGroup)).status };
      expect(outcome).to.deep.equal({ none: 404, group1: 200, noGroup: 404 });
    });
  });

  describe('authz-dry-run: a DENY policy in dry-run denies nothing and is recorded', () => {
    after(() => t && reset());

    it('deny-path-headers with istio.io/dry-run: 20 requests to /headers answer 200; the sidecar counts and logs the shadow denials', async () => {
      await kubectlOk(t, ['apply', '-n', FOO, '-f', '-'], DRY_RUN);
      const policy = 'ns[foo]-policy[deny-path-headers]-rule[0]';
      // weft's counter of authorization decisions (Istio's is envoy_http_…_rbac{authz_dry_run_result="denied"}):
      // weft_authz_decisions_total{…,decision="denied",policy="<policy>",dry_run="true"}.
      const shadowCount = (metrics: string) => metrics.split('\n')
        .filter((l) => !l.startsWith('#') && l.includes(`policy="${policy}"`) && /dry_run="true"/.test(l) && /"denied"/.test(l))
        .reduce((n, l) => n + Number(l.trim().split(/\s+/).pop()), 0);
      const before = shadowCount(await sidecarMetrics(t, FOO, httpbin).catch(() => ''));
      // The dry-run policy has arrived once a request shows in the counters.
      await until('the dry-run result in the sidecar\'s metrics', async () => {
        expect(await status('/headers', { 'x-b3-sampled': '1' })).to.equal(200);
        const m = await sidecarMetrics(t, FOO, httpbin);
        return { count: shadowCount(m), rbacLines: m.split('\n').filter((l) => /rbac|dry_run|shadow/.test(l)).join('\n').slice(0, 1200) };
      }, (x) => x.count > before);
      const counted = shadowCount(await sidecarMetrics(t, FOO, httpbin));
      for (let i = 0; i < 20; i++) expect(await status('/headers', { 'x-b3-sampled': '1' })).to.equal(200);
      const after = shadowCount(await sidecarMetrics(t, FOO, httpbin));
      expect(after - counted).to.equal(20);
      // /ip is not matched by the policy: not counted.
      expect(await status('/ip')).to.equal(200);
      expect(shadowCount(await sidecarMetrics(t, FOO, httpbin))).to.equal(after);
      const log = await containerLog(t, FOO, httpbin.name, 'weft-proxy');
      // Istio's rbac debug log says "shadow denied, matched policy <policy>"; weft's access log line of the request
      // carries the same as Envoy's dynamic metadata (…shadow_engine_result: denied, …shadow_effective_policy_id).
      const lines = log.split('\n').filter((l) => l.includes(policy) && /shadow/.test(l) && /denied/.test(l));
      expect(lines.length, `proxy log lines naming ${policy} as shadow denied`).to.be.at.least(20);
    });
  });

  describe('AUDIT (not a task page): requests a policy selects are marked in the access log, none denied', () => {
    after(() => t && reset());

    it('audit-headers: /headers answers 200 and its access log line carries the audit marker; /ip does not', async () => {
      await apply(t, AUDIT_HEADERS);
      const policy = 'ns[foo]-policy[audit-headers]-rule[0]';
      const audited = (log: string) => log.split('\n').filter((l) => l.includes('"audit":true') && l.includes(policy));
      const before = audited(await containerLog(t, FOO, httpbin.name, 'weft-proxy')).length;
      await until('an audited request in the access log', async () => {
        expect(await status('/headers')).to.equal(200);
        return audited(await containerLog(t, FOO, httpbin.name, 'weft-proxy')).length;
      }, (n) => n > before);
      const lines = audited(await containerLog(t, FOO, httpbin.name, 'weft-proxy'));
      expect(lines.every((l) => (JSON.parse(l) as { path: string }).path === '/headers'), lines.slice(-3).join('\n')).to.equal(true);
      expect(await status('/ip')).to.equal(200);
    });
  });

  describe('authz-custom: the ext-authz sample through the mesh config\'s extensionProviders', () => {
    let previousMesh: string | undefined;
    before(async () => {
      const r = await t.kubectl(['get', 'configmap', 'weft', '-n', GATEWAY_NS, '-o', 'jsonpath={.data.mesh}']);
      previousMesh = r.status === 0 ? r.stdout : undefined;
      // The page adds extensionProviders to the mesh config; kept as is otherwise (replaced if it has some already).
      const kept = previousMesh && !/^extensionProviders:/m.test(previousMesh) ? `${previousMesh}\n` : '';
      await kubectlOk(t, ['create', 'configmap', 'weft', '-n', GATEWAY_NS, `--from-literal=mesh=${kept}${MESH_WITH_EXT_AUTHZ}`, '--dry-run=client', '-o', 'yaml'])
        .then((yaml) => apply(t, yaml));
    });
    after(async () => {
      if (!t) return;
      if (previousMesh === undefined) await kubectlOk(t, ['delete', 'configmap', 'weft', '-n', GATEWAY_NS, '--ignore-not-found']);
      else await apply(t, await kubectlOk(t, ['create', 'configmap', 'weft', '-n', GATEWAY_NS, `--from-literal=mesh=${previousMesh}`, '--dry-run=client', '-o', 'yaml']));
      await reset();
    });

    for (const provider of ['sample-ext-authz-grpc', 'sample-ext-authz-http'] as const) {
      it(`CUSTOM ${provider}: /headers checked (x-ext-authz: deny 403 with the authorizer's answer, allow 200), /ip not checked`, async () => {
        await kubectlOk(t, ['apply', '-n', FOO, '-f', '-'], extAuthzPolicy(provider));
        const denied = await until('x-ext-authz: deny refused by the authorizer', () => get('/headers', { 'x-ext-authz': 'deny' }), (x) => x.status === 403 && x.body !== DENIED)
          .catch(async (e: Error) => {
            // Say why: the mesh config's verdict and the policy's conditions.
            const verdict = (await t.kubectl(['get', 'configmap', 'weft', '-n', GATEWAY_NS, '-o', 'jsonpath={.metadata.annotations.weft\\.dev/mesh-config-status}'])).stdout;
            const conditions = (await t.kubectl(['get', 'authorizationpolicy', 'ext-authz', '-n', FOO, '-o', 'jsonpath={.status.conditions}'])).stdout;
            throw new Error(`${e.message}\nmesh config: ${verdict}\npolicy conditions: ${conditions}`);
          });
        expect(denied.body).to.equal('denied by ext_authz for not found header `x-ext-authz: allow` in the request');
        expect(denied.headers?.['x-ext-authz-check-result']).to.equal('denied');
        // Switching providers: wait until the new one is the one answering (its log line).
        const tag = provider.endsWith('grpc') ? '[gRPCv3]' : '[HTTP]';
        const authz = (await readyPods(t, FOO, 'app=ext-authz', 1))[0]!;
        await until(`the check reaches ext-authz over ${tag}`, async () => {
          await get('/headers', { 'x-ext-authz': 'deny' });
          return containerLog(t, FOO, authz.name, 'ext-authz');
        }, (log) => log.includes(`${tag}[denied]`));
        const allowed = await get('/headers', { 'x-ext-authz': 'allow' });
        expect(allowed.status).to.equal(200);
        const echoed = json(allowed).headers as Record<string, string>;
        expect(echoed['x-ext-authz']).to.equal('allow');
        // The gRPC authorizer's ok_response headers reach the app (the page shows X-Ext-Authz-Check-Result: allowed);
        // an HTTP authorizer's reach it only when headersToUpstreamOnAllow names them (the page's config does not).
        if (provider.endsWith('grpc')) expect(echoed['x-ext-authz-check-result']).to.equal('allowed');
        const log = await containerLog(t, FOO, authz.name, 'ext-authz');
        expect(log).to.match(provider.endsWith('grpc') ? /\[gRPCv3\]\[allowed\]: httpbin\.foo:8000\/headers/ : /\[HTTP\]\[allowed\]: \w+ \S*\/headers/);
        expect(await status('/ip', { 'x-ext-authz': 'deny' })).to.equal(200);
      });
    }

    it('CUSTOM on TCP (not the page): tcp-echo:9000 checked over gRPC and refused for sa/curl, 9001 not checked', async () => {
      await apply(t, EXT_AUTHZ_TCP);
      await until('port 9000 refused by the authorizer', () => nc('tcp-echo', 9000), (r) => !succeeded(r));
      expect((await nc('tcp-echo', 9001)).reply).to.equal('hello port 9001\n');
      const authz = (await readyPods(t, FOO, 'app=ext-authz', 1))[0]!;
      const log = await containerLog(t, FOO, authz.name, 'ext-authz');
      // A connection's check has no HTTP request in it (empty host and path), and the peer's mTLS identity.
      expect(log).to.match(/\[gRPCv3\]\[denied\]: , attributes: .*"sourcePrincipal":"spiffe:\/\/cluster\.local\/ns\/foo\/sa\/curl"/);
    });
  });
});
