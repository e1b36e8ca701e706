// jwt_authn as the sidecar runs it: real keys of every algorithm Envoy accepts (generated with jose), real signed
// tokens, and the stage driven with real requests; Envoy's statuses, bodies, www-authenticate, details, header
// and metadata effects, extraction locations, requirement combinations and the verified-token cache.
import { expect } from 'chai';
import { constants, generateKeyPairSync, sign } from 'node:crypto';
import { exportJWK, generateKeyPair, generateSecret, SignJWT } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import { jwtAuthnStage } from '../../src/proxy/http/filters/jwt-authn.ts';
import { fakeJwks, jwtAuthentication } from '../../src/translate/authz/jwt.ts';
import { filterRequest, routeWith, runStage } from './proxy-jwt-fixtures.ts';
import type { RequestInit } from './proxy-jwt-fixtures.ts';

const ISS = 'https://issuer.example.com';
type Signer = { alg: string; jwk: JWK; sign(payload: JWTPayload, header?: Record<string, unknown>): Promise<string> };

async function signer(alg: string, kid = `kid-${alg}`): Promise<Signer> {
  let privateKey: CryptoKey | Uint8Array;
  let jwk: JWK;
  if (alg.startsWith('HS')) {
    const secret = await generateSecret(alg, { extractable: true });
    privateKey = secret;
    jwk = await exportJWK(secret);
  } else {
    const pair = await generateKeyPair(alg, { extractable: true });
    privateKey = pair.privateKey;
    jwk = await exportJWK(pair.publicKey);
  }
  jwk = { ...jwk, kid, alg };
  return {
    alg,
    jwk,
    sign: (payload, header = {}) => new SignJWT(payload).setProtectedHeader({ alg, kid, typ: 'JWT', ...header }).sign(privateKey),
  };
}

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: JWTPayload = {}): JWTPayload => ({ iss: ISS, sub: 'alice', aud: 'bookinfo', exp: now() + 3600, ...extra });

function provider(keys: JWK[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { issuer: ISS, localJwks: { inlineString: JSON.stringify({ keys }) }, payloadInMetadata: ISS, ...extra };
}

/** Istio's shape: one provider, requires_any [provider, allow_missing] on every path. */
function istioConfig(p: Record<string, unknown>): Record<string, unknown> {
  return {
    providers: { 'origins-0': p },
    rules: [{ match: { prefix: '/' }, requires: { requiresAny: { requirements: [{ providerName: 'origins-0' }, { allowMissing: {} }] } } }],
  };
}

function requireConfig(p: Record<string, unknown>, requires: unknown = { providerName: 'p' }): Record<string, unknown> {
  return { providers: { p }, rules: [{ match: { prefix: '/' }, requires }] };
}

const bearer = (t: string): RequestInit => ({ headers: { authorization: `Bearer ${t}` } });

const ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'HS256', 'HS384', 'HS512'];

describe('proxy jwt_authn: algorithms', () => {
  for (const alg of ALGS) {
    it(`verifies ${alg} and puts the payload in metadata`, async () => {
      const s = await signer(alg);
      const stage = jwtAuthnStage(istioConfig(provider([s.jwk])));
      const token = await s.sign(claims());
      const out = await runStage(stage, filterRequest(bearer(token)));
      expect(out.kind, out.req.replied?.body).to.equal('next');
      expect(out.req.metadata.get('envoy.filters.http.jwt_authn')).to.deep.include({ [ISS]: { ...claims(), exp: (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp } });
      expect(out.req.request.headers.has('authorization')).to.equal(false);
    });
  }

  it('refuses a token signed by another key of the same kid (Jwt verification fails)', async () => {
    const good = await signer('ES256', 'k1');
    const other = await signer('ES256', 'k1');
    const stage = jwtAuthnStage(istioConfig(provider([good.jwk])));
    const out = await runStage(stage, filterRequest({ host: 'svc.ns:8080', path: '/api?x=1', ...bearer(await other.sign(claims())) }));
    expect(out.kind).to.equal('reply');
    expect(out.req.replied).to.deep.equal({
      status: 401, body: 'Jwt verification fails',
      headers: { 'www-authenticate': 'Bearer realm="http://svc.ns:8080/api?x=1", error="invalid_token"' },
    });
    expect(out.req.details).to.equal('jwt_authn_access_denied{Jwt_verification_fails}');
  });

  it('says the JWKS has no key for an unknown kid or another algorithm', async () => {
    const s = await signer('RS256', 'k1');
    const stage = jwtAuthnStage(istioConfig(provider([s.jwk])));
    const other = await signer('RS256', 'k2');
    let out = await runStage(stage, filterRequest(bearer(await other.sign(claims()))));
    expect(out.req.replied?.body).to.equal("Jwks doesn't have key to match kid or alg from Jwt");
    const rs384 = await signer('RS384', 'k1');
    out = await runStage(stage, filterRequest(bearer(await rs384.sign(claims()))));
    expect(out.req.replied?.body).to.equal("Jwks doesn't have key to match kid or alg from Jwt");
  });

  it('verifies with RSA keys under 2048 bits, as Envoy does', async () => {
    for (const alg of ['RS256', 'PS384']) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
      const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'small', alg };
      const head = Buffer.from(JSON.stringify({ alg, kid: 'small' })).toString('base64url');
      const body = Buffer.from(JSON.stringify(claims())).toString('base64url');
      const options = alg.startsWith('PS') ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } : privateKey;
      const sig = sign(`sha${alg.slice(2)}`, Buffer.from(`${head}.${body}`), options).toString('base64url');
      const stage = jwtAuthnStage(istioConfig(provider([jwk as JWK])));
      const ok = await runStage(stage, filterRequest(bearer(`${head}.${body}.${sig}`)));
      expect(ok.kind, ok.req.replied?.body).to.equal('next');
      const bad = await runStage(stage, filterRequest(bearer(`${head}.${body}.${Buffer.from('x'.repeat(128)).toString('base64url')}`)));
      expect(bad.req.replied?.body).to.equal('Jwt verification fails');
    }
  });

  it('tries every key when neither side names a kid', async () => {
    const a = await signer('ES256');
    const b = await signer('ES256');
    const keys = [a.jwk, b.jwk].map(({ kid: _kid, ...k }) => k);
    const stage = jwtAuthnStage(istioConfig(provider(keys)));
    const token = await b.sign(claims(), { kid: undefined });
    const out = await runStage(stage, filterRequest(bearer(token)));
    expect(out.kind, out.req.replied?.body).to.equal('next');
  });
});

describe('proxy jwt_authn: claims checks', () => {
  let s: Signer;
  before(async () => { s = await signer('RS256'); });

  const cases: Array<[string, JWTPayload, number, string]> = [
    ['expired beyond the 60 s skew', { exp: now() - 120 }, 401, 'Jwt is expired'],
    ['not yet valid beyond the skew', { nbf: now() + 120 }, 401, 'Jwt not yet valid'],
    ['from an issuer the provider does not name', { iss: 'https://other' }, 401, 'Jwt issuer is not configured'],
    ['for an audience not allowed', { aud: ['other'] }, 403, 'Audiences in Jwt are not allowed'],
  ];
  for (const [what, extra, status, body] of cases) {
    it(`refuses a token ${what}`, async () => {
      const stage = jwtAuthnStage(istioConfig(provider([s.jwk], { audiences: ['bookinfo', 'https://api.example.com/'] })));
      const out = await runStage(stage, filterRequest(bearer(await s.sign(claims(extra)))));
      expect(out.req.replied?.status).to.equal(status);
      expect(out.req.replied?.body).to.equal(body);
      expect(out.req.details).to.equal(`jwt_authn_access_denied{${body.replace(/ /g, '_')}}`);
    });
  }

  it('accepts within the clock skew and compares audiences without scheme or trailing slash', async () => {
    const stage = jwtAuthnStage(istioConfig(provider([s.jwk], { audiences: ['https://api.example.com/'], clockSkewSeconds: 30 })));
    let out = await runStage(stage, filterRequest(bearer(await s.sign(claims({ aud: 'api.example.com', exp: now() - 10 })))));
    expect(out.kind, out.req.replied?.body).to.equal('next');
    out = await runStage(stage, filterRequest(bearer(await s.sign(claims({ aud: 'api.example.com', exp: now() - 45 })))));
    expect(out.req.replied?.body).to.equal('Jwt is expired');
  });

  it('refuses malformed tokens with the parse status', async () => {
    const stage = jwtAuthnStage(istioConfig(provider([s.jwk])));
    let out = await runStage(stage, filterRequest(bearer('abc.def')));
    expect(out.req.replied?.body).to.equal('Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections');
    expect(out.sync).to.equal(true);
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.c2ln`;
    out = await runStage(stage, filterRequest(bearer(none)));
    expect(out.req.replied?.body).to.equal('Jwt header [alg] is not supported');
  });
});

describe('proxy jwt_authn: requirements', () => {
  let s: Signer;
  let t: Signer;
  before(async () => {
    s = await signer('ES256', 'one');
    t = await signer('ES384', 'two');
  });

  it('lets a request without a token through Istio\'s requirement synchronously', async () => {
    const stage = jwtAuthnStage(istioConfig(provider([s.jwk])));
    const out = await runStage(stage, filterRequest({ headers: { authorization: 'Basic abc' } }));
    expect(out).to.include({ kind: 'next', sync: true });
    expect(out.req.metadata.size).to.equal(0);
    expect(out.req.request.headers.get('authorization')).to.deep.equal(['Basic abc']);
  });

  it('answers 401 "Jwt is missing" when a provider is required, without error="invalid_token"', async () => {
    const stage = jwtAuthnStage(requireConfig(provider([s.jwk])));
    const out = await runStage(stage, filterRequest({ path: '/x' }));
    expect(out.sync).to.equal(true);
    expect(out.req.replied).to.deep.equal({ status: 401, body: 'Jwt is missing', headers: { 'www-authenticate': 'Bearer realm="http://example.com/x"' } });
    expect(out.req.details).to.equal('jwt_authn_access_denied{Jwt_is_missing}');
  });

  it('does not let allow_missing excuse an invalid token, while allow_missing_or_failed does', async () => {
    const bad = await t.sign(claims());
    const missing = jwtAuthnStage(istioConfig(provider([s.jwk])));
    let out = await runStage(missing, filterRequest(bearer(bad)));
    expect(out.req.replied?.status).to.equal(401);
    expect(out.req.replied?.body).to.equal("Jwks doesn't have key to match kid or alg from Jwt");
    const failed = jwtAuthnStage(requireConfig(provider([s.jwk]), { requiresAny: { requirements: [{ providerName: 'p' }, { allowMissingOrFailed: {} }] } }));
    out = await runStage(failed, filterRequest(bearer(bad)));
    expect(out.kind).to.equal('next');
    expect(out.req.metadata.size).to.equal(0);
  });

  it('requires_any passes with either provider, requires_all needs both', async () => {
    const pa = provider([s.jwk], { fromHeaders: [{ name: 'x-a' }], payloadInMetadata: 'a' });
    const pb = { ...provider([t.jwk], { fromHeaders: [{ name: 'x-b' }], payloadInMetadata: 'b' }), issuer: 'https://b' };
    const any = { requiresAny: { requirements: [{ providerName: 'a' }, { providerName: 'b' }] } };
    const all = { requiresAll: { requirements: [{ providerName: 'a' }, { providerName: 'b' }] } };
    const cfg = (requires: unknown) => ({ providers: { a: pa, b: pb }, rules: [{ match: { prefix: '/' }, requires }] });
    const ta = await s.sign(claims());
    const tb = await t.sign(claims({ iss: 'https://b' }));
    let out = await runStage(jwtAuthnStage(cfg(any)), filterRequest({ headers: { 'x-b': tb } }));
    expect(out.kind).to.equal('next');
    expect([...Object.keys(out.req.metadata.get('envoy.filters.http.jwt_authn')!)]).to.deep.equal(['b']);
    out = await runStage(jwtAuthnStage(cfg(all)), filterRequest({ headers: { 'x-b': tb } }));
    expect(out.req.replied?.body).to.equal('Jwt is missing');
    out = await runStage(jwtAuthnStage(cfg(all)), filterRequest({ headers: { 'x-a': ta, 'x-b': tb } }));
    expect(out.kind).to.equal('next');
    expect(Object.keys(out.req.metadata.get('envoy.filters.http.jwt_authn')!).sort()).to.deep.equal(['a', 'b']);
    // requires_any reports the real failure rather than the other provider's missing token.
    out = await runStage(jwtAuthnStage(cfg(any)), filterRequest({ headers: { 'x-a': tb } }));
    expect(out.req.replied?.body).to.equal('Jwt issuer is not configured');
  });

  it('runs what translation writes for two jwtRules: either issuer passes, an unknown one or a bad token does not', async () => {
    const keys = (j: typeof s) => JSON.stringify({ keys: [j.jwk] });
    const cfg = jwtAuthentication([{ issuer: 'https://a', jwks: keys(s) }, { issuer: 'https://b', jwks: keys(t) }], {})!;
    const stage = jwtAuthnStage(cfg);
    const a = await runStage(stage, filterRequest(bearer(await s.sign(claims({ iss: 'https://a' })))));
    expect(a.kind, a.req.replied?.body).to.equal('next');
    expect(Object.keys(a.req.metadata.get('envoy.filters.http.jwt_authn')!)).to.deep.equal(['https://a']);
    const b = await runStage(stage, filterRequest(bearer(await t.sign(claims({ iss: 'https://b' })))));
    expect(b.kind, b.req.replied?.body).to.equal('next');
    expect(Object.keys(b.req.metadata.get('envoy.filters.http.jwt_authn')!)).to.deep.equal(['https://b']);
    const c = await runStage(stage, filterRequest(bearer(await s.sign(claims({ iss: 'https://c' })))));
    expect(c.req.replied?.body).to.equal('Jwt issuer is not configured');
    const forged = await runStage(stage, filterRequest(bearer(await t.sign(claims({ iss: 'https://a' })))));
    expect(forged.req.replied?.status).to.equal(401);
    expect(await runStage(stage, filterRequest())).to.include({ kind: 'next', sync: true });
  });

  it('answers like Istio when the keys could not be fetched (the placeholder key set)', async () => {
    const stage = jwtAuthnStage(jwtAuthentication([{ issuer: ISS, jwksUri: 'https://keys.example/jwks' }], {})!);
    expect(fakeJwks('https://keys.example/jwks')).to.include('"kid":"abc"');
    const out = await runStage(stage, filterRequest(bearer(await s.sign(claims()))));
    expect(out.req.replied?.body).to.equal("Jwks doesn't have key to match kid or alg from Jwt");
    expect(await runStage(stage, filterRequest())).to.include({ kind: 'next', sync: true });
  });

  it('provider_and_audiences overrides the provider audiences', async () => {
    const requires = { providerAndAudiences: { providerName: 'p', audiences: ['special'] } };
    const stage = jwtAuthnStage(requireConfig(provider([s.jwk], { audiences: ['bookinfo'] }), requires));
    let out = await runStage(stage, filterRequest(bearer(await s.sign(claims()))));
    expect(out.req.replied?.status).to.equal(403);
    out = await runStage(stage, filterRequest(bearer(await s.sign(claims({ aud: 'special' })))));
    expect(out.kind).to.equal('next');
  });

  it('applies the first matching rule only and skips paths no rule matches', async () => {
    const p = provider([s.jwk]);
    const stage = jwtAuthnStage({
      providers: { p },
      rules: [
        { match: { path: '/healthz' } },
        { match: { prefix: '/api', headers: [{ name: 'x-mode', stringMatch: { exact: 'strict' } }] }, requires: { providerName: 'p' } },
        { match: { safeRegex: { regex: '/admin/.*' } }, requires: { providerName: 'p' } },
      ],
    });
    expect(await runStage(stage, filterRequest({ path: '/healthz' }))).to.include({ kind: 'next', sync: true });
    expect(await runStage(stage, filterRequest({ path: '/api/x' }))).to.include({ kind: 'next', sync: true });
    expect((await runStage(stage, filterRequest({ path: '/api/x', headers: { 'x-mode': 'strict' } }))).kind).to.equal('reply');
    expect((await runStage(stage, filterRequest({ path: '/admin/users?y' }))).kind).to.equal('reply');
    expect(await runStage(stage, filterRequest({ path: '/other' }))).to.include({ kind: 'next', sync: true });
  });

  it('uses requirement_map entries named by rules', async () => {
    const stage = jwtAuthnStage({
      providers: { p: provider([s.jwk]) },
      requirementMap: { strict: { providerName: 'p' } },
      rules: [{ match: { prefix: '/' }, requirementName: 'strict' }],
    });
    expect((await runStage(stage, filterRequest())).req.replied?.body).to.equal('Jwt is missing');
  });

  it('answers the bare status with strip_failure_response', async () => {
    const stage = jwtAuthnStage({ ...requireConfig(provider([s.jwk])), stripFailureResponse: true });
    const out = await runStage(stage, filterRequest());
    expect(out.req.replied).to.deep.equal({ status: 401 });
    expect(out.req.details).to.equal('jwt_authn_access_denied{Jwt_is_missing}');
  });

  it('follows the route\'s PerRouteConfig: disabled, a requirement_name, or 403 for a name the map lacks', async () => {
    const cfg = { ...requireConfig(provider([s.jwk])), requirementMap: { open: { allowMissing: {} }, strict: { providerName: 'p' } } };
    const stage = jwtAuthnStage(cfg, { name: 'envoy.filters.http.jwt_authn' });
    const on = (per: Record<string, unknown> | null) => filterRequest({ route: routeWith({ 'envoy.filters.http.jwt_authn': per }) });
    expect(await runStage(stage, on({ disabled: true }))).to.include({ kind: 'next', sync: true });
    expect(await runStage(stage, on(null))).to.include({ kind: 'next', sync: true });
    expect(await runStage(stage, on({ requirementName: 'open' }))).to.include({ kind: 'next', sync: true });
    expect((await runStage(stage, on({ requirementName: 'strict' }))).req.replied?.body).to.equal('Jwt is missing');
    const wrong = await runStage(stage, on({ requirementName: 'nope' }));
    expect(wrong.req.replied).to.deep.equal({ status: 403, body: 'Failed JWT authentication: Wrong requirement_name: nope. It should be one of [open,strict]' });
    expect(wrong.req.details).to.equal('jwt_authn_access_denied{Wrong_requirement_name:_nope._It_should_be_one_of_[open,strict]}');
    // Without a per-route config the rules apply.
    expect((await runStage(stage, filterRequest({ route: routeWith({}) }))).req.replied?.body).to.equal('Jwt is missing');
  });

  it('lets CORS preflights through when bypass_cors_preflight is set', async () => {
    const stage = jwtAuthnStage({ ...requireConfig(provider([s.jwk])), bypassCorsPreflight: true });
    const out = await runStage(stage, filterRequest({ method: 'OPTIONS', headers: { origin: 'https://a', 'access-control-request-method': 'GET' } }));
    expect(out.kind).to.equal('next');
  });
});

describe('proxy jwt_authn: extraction and effects', () => {
  let s: Signer;
  let token: string;
  before(async () => {
    s = await signer('RS256');
    token = await s.sign(claims({ groups: ['dev', 'ops'], n: 42, ratio: 1.5, admin: true, nested: { team: 'core' } }));
  });

  it('reads the access_token query parameter by default and removes it from the path', async () => {
    const stage = jwtAuthnStage(istioConfig(provider([s.jwk])));
    const out = await runStage(stage, filterRequest({ path: `/p?a=1&access_token=${token}&b=2` }));
    expect(out.kind, out.req.replied?.body).to.equal('next');
    expect(out.req.request.path).to.equal('/p?a=1&b=2');
  });

  it('reads a custom header after its value prefix, and keeps it with forward', async () => {
    const p = provider([s.jwk], { fromHeaders: [{ name: 'X-Token', valuePrefix: 'Token ' }], forward: true });
    const stage = jwtAuthnStage(istioConfig(p));
    let out = await runStage(stage, filterRequest({ headers: { 'x-token': `Token  ${token}` } }));
    expect(out.kind, out.req.replied?.body).to.equal('next');
    expect(out.req.request.headers.get('x-token')).to.deep.equal([`Token  ${token}`]);
    // A header without the prefix is no token at all (Istio's requirement lets it through).
    out = await runStage(stage, filterRequest({ headers: { 'x-token': 'garbage' } }));
    expect(out).to.include({ kind: 'next', sync: true });
    // Authorization is not a location once from_headers is set.
    out = await runStage(stage, filterRequest(bearer('garbage')));
    expect(out).to.include({ kind: 'next', sync: true });
  });

  it('reads from_params and from_cookies', async () => {
    const p = provider([s.jwk], { fromParams: ['jwt'], fromCookies: ['session'] });
    const stage = jwtAuthnStage(requireConfig(p));
    let out = await runStage(stage, filterRequest({ path: `/?jwt=${token}` }));
    expect(out.kind, out.req.replied?.body).to.equal('next');
    out = await runStage(stage, filterRequest({ headers: { cookie: `a=b; session=${token}; c=d` } }));
    expect(out.kind, out.req.replied?.body).to.equal('next');
    expect(out.req.request.headers.get('cookie')).to.deep.equal([`a=b; session=${token}; c=d`]);
    out = await runStage(stage, filterRequest({ headers: { cookie: 'session=abc.def.ghi' } }));
    expect(out.req.replied?.status).to.equal(401);
  });

  it('forwards the payload header (padded when asked) and copies claims to headers, dropping forged ones', async () => {
    const payloadB64 = token.split('.')[1]!;
    const p = provider([s.jwk], {
      forwardPayloadHeader: 'x-jwt-payload',
      claimToHeaders: [
        { headerName: 'x-sub', claimName: 'sub' }, { headerName: 'x-n', claimName: 'n' }, { headerName: 'x-ratio', claimName: 'ratio' },
        { headerName: 'x-admin', claimName: 'admin' }, { headerName: 'x-team', claimName: 'nested.team' }, { headerName: 'x-groups', claimName: 'groups' },
      ],
    });
    const out = await runStage(jwtAuthnStage(istioConfig(p)), filterRequest({ headers: { authorization: `Bearer ${token}`, 'x-sub': 'forged', 'x-groups': 'forged' } }));
    expect(out.kind, out.req.replied?.body).to.equal('next');
    const h = out.req.request.headers;
    expect(h.get('x-jwt-payload')).to.deep.equal([payloadB64]);
    expect(h.get('x-sub')).to.deep.equal(['alice']);
    expect(h.get('x-n')).to.deep.equal(['42']);
    expect(h.get('x-ratio')).to.deep.equal(['1.500000']);
    expect(h.get('x-admin')).to.deep.equal(['true']);
    expect(h.get('x-team')).to.deep.equal(['core']);
    expect(h.has('x-groups')).to.equal(false);
    const padded = await runStage(jwtAuthnStage(istioConfig({ ...p, padForwardPayloadHeader: true })), filterRequest(bearer(token)));
    const v = padded.req.request.headers.get('x-jwt-payload')![0]!;
    expect(v.length % 4).to.equal(0);
    expect(v.replace(/=+$/, '')).to.equal(payloadB64);
  });

  it('clears a forged payload header from a request without any token', async () => {
    const p = provider([s.jwk], { forwardPayloadHeader: 'x-jwt-payload', claimToHeaders: [{ headerName: 'x-sub', claimName: 'sub' }] });
    const out = await runStage(jwtAuthnStage(istioConfig(p)), filterRequest({ headers: { 'x-jwt-payload': 'forged', 'x-sub': 'root', 'x-keep': '1' } }));
    expect(out).to.include({ kind: 'next', sync: true });
    expect([...out.req.request.headers.keys()]).to.deep.equal(['x-keep']);
  });

  it('leaves the request untouched when verification fails', async () => {
    const p = provider([s.jwk], { forwardPayloadHeader: 'x-jwt-payload' });
    const other = await signer('RS256');
    const req = filterRequest(bearer(await other.sign(claims())));
    const out = await runStage(jwtAuthnStage(istioConfig(p)), req);
    expect(out.kind).to.equal('reply');
    expect(req.metadata.size).to.equal(0);
  });
});

describe('proxy jwt_authn: verified-token cache', () => {
  it('answers a repeated token synchronously and still honours its expiry', async () => {
    const s = await signer('PS256');
    let clock = now();
    const stage = jwtAuthnStage(istioConfig(provider([s.jwk])), { nowSeconds: () => clock });
    const token = await s.sign(claims({ exp: clock + 100 }));
    const first = await runStage(stage, filterRequest(bearer(token)));
    expect(first).to.include({ kind: 'next', sync: false });
    const second = await runStage(stage, filterRequest(bearer(token)));
    expect(second).to.include({ kind: 'next', sync: true });
    expect(second.req.metadata.get('envoy.filters.http.jwt_authn')).to.have.property(ISS);
    clock += 200;
    const late = await runStage(stage, filterRequest(bearer(token)));
    expect(late.req.replied?.body).to.equal('Jwt is expired');
  });

  it('does not cache failures and keeps at most jwt_cache_size tokens', async () => {
    const s = await signer('ES256');
    const stage = jwtAuthnStage(istioConfig(provider([s.jwk], { jwtCacheConfig: { jwtCacheSize: 1 } })));
    const t1 = await s.sign(claims({ jti: '1' }));
    const t2 = await s.sign(claims({ jti: '2' }));
    await runStage(stage, filterRequest(bearer(t1)));
    await runStage(stage, filterRequest(bearer(t2)));
    expect((await runStage(stage, filterRequest(bearer(t2)))).sync).to.equal(true);
    expect((await runStage(stage, filterRequest(bearer(t1)))).sync).to.equal(false);
  });
});
