// The flag loop weftctl's commands share: inline and separate values, and a missing value as a usage error.
import { expect } from 'chai';
import { eachFlag } from '../../src/cli/flags.ts';

/** Flags that take a value come back as `flag=value`, everything else as `flag|arg`. */
const VALUED = new Set(['-n', '--namespace', '--file']);
function walk(argv: string[]): string[] {
  const seen: string[] = [];
  eachFlag(argv, (m) => new Error(m), (flag, arg, value) => {
    seen.push(VALUED.has(flag) ? `${flag}=${value()}` : `${flag}|${arg}`);
  });
  return seen;
}

describe('eachFlag', () => {
  it('reads a value inline after "=" or from the next argument', () => {
    expect(walk(['--namespace=shop', '-n', 'web', '--file', 'a=b.yaml'])).to.deep.equal(['--namespace=shop', '-n=web', '--file=a=b.yaml']);
  });
  it('passes positional arguments through and splits only long flags at "="', () => {
    expect(walk(['pod', '-x=1'])).to.deep.equal(['pod|pod', '-x=1|-x=1']);
  });
  it('makes a missing or empty value a usage error naming the flag', () => {
    expect(() => walk(['-n'])).to.throw('-n needs a value');
    expect(() => walk(['--namespace='])).to.throw('--namespace needs a value');
  });
});
