import { expect } from 'chai';
import { checkCidr, checkDuration, checkHost, checkIp, checkLabelKey, checkRegex, parseDurationNs } from '../../src/validate/common.ts';

describe('validate/common', () => {
  it('parses Go durations', () => {
    expect(parseDurationNs('1.5s')).to.equal(1.5e9);
    expect(parseDurationNs('1h2m')).to.equal(3720e9);
    expect(parseDurationNs('250ms')).to.equal(250e6);
    expect(parseDurationNs('10')).to.equal(undefined);
    expect(parseDurationNs('5 s')).to.equal(undefined);
  });
  it('requires durations of at least 1ms', () => {
    expect(checkDuration('1ms')).to.equal(undefined);
    expect(checkDuration('500us')).to.match(/at least 1ms/);
    expect(checkDuration('abc')).to.match(/invalid duration/);
  });
  it('checks hosts with Istio wildcard rules', () => {
    expect(checkHost('*')).to.equal(undefined);
    expect(checkHost('*.example.com')).to.equal(undefined);
    expect(checkHost('reviews')).to.equal(undefined);
    expect(checkHost('foo.*.com')).to.match(/leftmost/);
    expect(checkHost('bad_host.com')).to.match(/not a valid DNS name/);
    expect(checkHost('*.example.com', { allowWildcard: false })).to.match(/not allowed/);
  });
  it('checks addresses', () => {
    expect(checkIp('10.0.0.1')).to.equal(undefined);
    expect(checkIp('2001:db8::1')).to.equal(undefined);
    expect(checkIp('10.0.0.256')).to.match(/not a valid IP/);
    expect(checkCidr('10.0.0.0/8')).to.equal(undefined);
    expect(checkCidr('10.0.0.0/33')).to.match(/prefix length/);
    expect(checkCidr('2001:db8::/129')).to.match(/prefix length/);
  });
  it('checks label keys', () => {
    expect(checkLabelKey('app.kubernetes.io/name')).to.equal(undefined);
    expect(checkLabelKey('-bad')).to.match(/label key/);
  });
  it('compiles regexes with RE2 syntax only', () => {
    expect(checkRegex('^/api/v[0-9]+')).to.equal(undefined);
    expect(checkRegex('(a+)+\\1')).to.match(/invalid RE2/); // backreferences are not RE2
    expect(checkRegex('(?<=x)y')).to.match(/invalid RE2/); // nor lookbehind
  });
});
