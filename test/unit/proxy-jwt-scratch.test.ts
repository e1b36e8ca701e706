// jwt_authn's scratch view of the request headers: reads go through to the request, edits stay in the view until
// committed, and a committed request map ends exactly as a copy edited the same way would (same names, values and
// order), so verification that fails leaves the request untouched.
import { expect } from 'chai';
import { ScratchHeaders } from '../../src/proxy/http/filters/jwt-scratch.ts';

type Edit = ['set', string, string[]] | ['delete', string];

function viaCopy(base: Map<string, string[]>, edits: Edit[]): Array<[string, string[]]> {
  const copy = new Map(base);
  for (const e of edits) {
    if (e[0] === 'set') copy.set(e[1], e[2]);
    else copy.delete(e[1]);
  }
  return [...copy];
}

function viaScratch(base: Map<string, string[]>, edits: Edit[]): { view: ScratchHeaders; after: Array<[string, string[]]> } {
  const target = new Map(base);
  const view = new ScratchHeaders(target);
  for (const e of edits) {
    if (e[0] === 'set') view.set(e[1], e[2]);
    else view.delete(e[1]);
  }
  const before = [...target];
  expect(before, 'the request is untouched before commit').to.deep.equal([...base]);
  view.commit(target);
  return { view, after: [...target] };
}

describe('proxy jwt_authn scratch headers', () => {
  const base = () => new Map<string, string[]>([['authorization', ['Bearer t']], ['x-jwt-payload', ['forged']], ['accept', ['*/*']]]);

  it('reads through to the request and sees its own edits', () => {
    const b = base();
    const v = new ScratchHeaders(b);
    expect(v.get('accept')).to.deep.equal(['*/*']);
    v.delete('authorization');
    v.set('x-claim', ['a']);
    expect(v.has('authorization')).to.equal(false);
    expect(v.get('x-claim')).to.deep.equal(['a']);
    expect(b.has('authorization')).to.equal(true);
    expect(b.has('x-claim')).to.equal(false);
  });

  it('reports whether a name was there when deleting, as a Map does', () => {
    const v = new ScratchHeaders(base());
    expect(v.delete('authorization')).to.equal(true);
    expect(v.delete('authorization')).to.equal(false);
    expect(v.delete('nothing')).to.equal(false);
    v.set('new', ['1']);
    expect(v.delete('new')).to.equal(true);
    expect(v.has('new')).to.equal(false);
  });

  const cases: Array<[string, Edit[]]> = [
    ['no edits', []],
    ['token removed', [['delete', 'authorization']]],
    ['a name replaced keeps its place', [['set', 'accept', ['text/plain']]]],
    ['sanitized then set again goes last', [['delete', 'x-jwt-payload'], ['set', 'x-jwt-payload', ['real']]]],
    ['new names in the order set', [['set', 'b', ['1']], ['set', 'a', ['2']], ['delete', 'authorization']]],
    ['a new name removed and set again goes last', [['set', 'a', ['1']], ['set', 'b', ['2']], ['delete', 'a'], ['set', 'a', ['3']]]],
    ['set, removed', [['set', 'accept', ['x']], ['delete', 'accept'], ['set', 'c', ['1']], ['delete', 'c']]],
  ];
  for (const [name, edits] of cases) {
    it(`commits as an edited copy would: ${name}`, () => {
      expect(viaScratch(base(), edits).after).to.deep.equal(viaCopy(base(), edits));
    });
  }
});
