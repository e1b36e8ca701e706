// istio_authn after jwt_authn: a real token verified by the jwt_authn stage, then Istio's request.auth.*
// attributes derived into `istio_authn` metadata (principal, audiences, presenter, claims with space-delimited
// scope as a list, nested claims, raw claims), and the first issuer in dictionary order when several verified.
import { expect } from 'chai';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { JWTPayload } from 'jose';
import { istioAuthnStage } from '../../src/proxy/http/filters/istio-authn.ts';
import { jwtAuthnStage } from '../../src/proxy/http/filters/jwt-authn.ts';
import { filterRequest, runStage } from './proxy-jwt-fixtures.ts';

describe('proxy istio_authn', () => {
  it('derives request.auth.* from the verified payload', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k' };
    const iss = 'https://accounts.example.com';
    const payload: JWTPayload = {
      iss, sub: 'user-1', aud: ['a', 'b'], azp: 'web', scope: 'read  write', groups: ['dev', 7, 'ops'], n: 3, admin: true,
      org: { team: 'core', tags: ['x'], deep: { id: 'z' } }, exp: Math.floor(Date.now() / 1000) + 600,
    };
    const token = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: 'k' }).sign(privateKey);
    const jwt = jwtAuthnStage({
      providers: {
        'origins-0': {
          issuer: iss, localJwks: { inlineString: JSON.stringify({ keys: [jwk] }) }, payloadInMetadata: iss,
          normalizePayloadInMetadata: { spaceDelimitedClaims: ['permission', 'scope'] },
        },
      },
      rules: [{ match: { prefix: '/' }, requires: { requiresAny: { requirements: [{ providerName: 'origins-0' }, { allowMissing: {} }] } } }],
    });
    const req = filterRequest({ headers: { authorization: `Bearer ${token}` } });
    expect((await runStage(jwt, req)).kind).to.equal('next');
    const out = await runStage(istioAuthnStage, req);
    expect(out).to.include({ kind: 'next', sync: true });
    const attrs = req.metadata.get('istio_authn')!;
    expect(attrs['request.auth.principal']).to.equal(`${iss}/user-1`);
    expect(attrs['request.auth.audiences']).to.deep.equal(['a', 'b']);
    expect(attrs['request.auth.presenter']).to.equal('web');
    expect(attrs['request.auth.claims']).to.deep.equal({
      iss: [iss], sub: ['user-1'], aud: ['a', 'b'], azp: ['web'], scope: ['read', 'write'], groups: ['dev', 'ops'],
      org: { team: ['core'], tags: ['x'], deep: { id: ['z'] } },
    });
    expect(JSON.parse(attrs['request.auth.raw_claims'] as string)).to.include({ sub: 'user-1', n: 3, admin: true });
  });

  it('uses the first issuer in dictionary order and does nothing without verified payloads', async () => {
    const req = filterRequest();
    await runStage(istioAuthnStage, req);
    expect(req.metadata.has('istio_authn')).to.equal(false);
    req.metadata.set('envoy.filters.http.jwt_authn', {
      'https://z.example': { iss: 'https://z.example', sub: 'z' },
      'https://a.example': { iss: 'https://a.example', sub: 'a', aud: 'only' },
    });
    await runStage(istioAuthnStage, req);
    const attrs = req.metadata.get('istio_authn')!;
    expect(attrs['request.auth.principal']).to.equal('https://a.example/a');
    expect(attrs['request.auth.audiences']).to.deep.equal(['only']);
    expect(attrs).to.not.have.property('request.auth.presenter');
  });
});
