// RequestAuthentication validation: the rules that are easy to get subtly wrong (crds/testdata is checked for
// every kind in validate-testdata.test.ts).
import { expect } from 'chai';
import type { RequestAuthentication } from '../../src/api/requestauthentication.ts';
import { checkJwks, checkJwksUri, validateRequestAuthentication } from '../../src/validate/requestauthentication.ts';
import { formatFinding } from '../../src/validate/result.ts';

const errorsOf = (obj: RequestAuthentication): string[] => validateRequestAuthentication(obj).errors.map(formatFinding);
const ra = (spec: RequestAuthentication['spec']): RequestAuthentication => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'RequestAuthentication',
  metadata: { name: 'x', namespace: 'default' },
  spec,
});

describe('validate/requestauthentication', () => {
  it('requires an issuer unless the keys come from jwksUri', () => {
    expect(errorsOf(ra({ jwtRules: [{ jwksUri: 'https://k.example.com/keys' }] }))).to.deep.equal([]);
    expect(errorsOf(ra({ jwtRules: [{ jwks_uri: 'https://k.example.com/keys' }] }))).to.deep.equal([]);
    expect(errorsOf(ra({ jwtRules: [{ audiences: ['a'] }] }))[0]).to.include('spec.jwtRules[0].issuer');
  });

  it('accepts http(s) key-set URLs with a host only', () => {
    expect(checkJwksUri('https://example.com/keys')).to.equal(undefined);
    expect(checkJwksUri('http://10.0.0.1:8080/keys')).to.equal(undefined);
    expect(checkJwksUri('file:///etc/keys.json')).to.include('scheme "file"');
    expect(checkJwksUri('https://')).to.be.a('string');
    expect(checkJwksUri('/keys')).to.include('not a URL');
  });

  it('parses inline key sets', () => {
    expect(checkJwks('{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}')).to.deep.equal({ keys: 1 });
    expect(checkJwks('{"kty":"oct","k":"c2VjcmV0"}')).to.deep.equal({ keys: 1 });
    expect(checkJwks('{"keys":[]}')).to.deep.equal({ keys: 0 });
    expect(checkJwks('[]').error).to.include('JSON Web Key Set');
    expect(checkJwks('{"keys":{}}').error).to.include('array');
    expect(checkJwks('{').error).to.include('not valid JSON');
  });

  it('warns about an empty key set, duplicate issuers and keys fetched over http', () => {
    const r = validateRequestAuthentication(ra({
      jwtRules: [
        { issuer: 'https://a.example.com', jwks: '{"keys":[]}' },
        { issuer: 'https://a.example.com', jwksUri: 'http://a.example.com/keys' },
      ],
    }));
    expect(r.errors).to.deep.equal([]);
    const warnings = r.warnings.map(formatFinding).join('\n');
    expect(warnings).to.include('spec.jwtRules[0].jwks: jwks has no keys');
    expect(warnings).to.include('spec.jwtRules[1].issuer: issuer https://a.example.com is also configured by jwtRules[0]');
    expect(warnings).to.include('spec.jwtRules[1].jwksUri: the key set is fetched over plain http');
  });

  it('checks timeouts as durations of at least 1ms', () => {
    const timeout = (t: string) => errorsOf(ra({ jwtRules: [{ issuer: 'i', timeout: t }] }));
    expect(timeout('1ms')).to.deep.equal([]);
    expect(timeout('1h')).to.deep.equal([]);
    expect(timeout('0s')[0]).to.include('at least 1ms');
    expect(timeout('5')[0]).to.include('spec.jwtRules[0].timeout');
  });

  it('flags headers written twice by outputClaimToHeaders', () => {
    const r = validateRequestAuthentication(ra({
      jwtRules: [{ issuer: 'i', outputClaimToHeaders: [{ header: 'x-a', claim: 'a' }, { header: 'X-A', claim: 'b' }] }],
    }));
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings[0]?.field).to.equal('spec.jwtRules[0].outputClaimToHeaders[1].header');
  });
});
