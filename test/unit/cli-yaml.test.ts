import { expect } from 'chai';
import { parseYamlDocuments } from '../../src/cli/yaml.ts';
import { resolvePlain } from '../../src/cli/yaml-scalars.ts';
import { PARITY_CASES } from '../support/yaml-parity.ts';

describe('cli/yaml (documents as kubectl reads them)', () => {
  it('reads YAML 1.1 scalars the way kubectl does', () => {
    const [doc] = parseYamlDocuments('a: [yes, on, "yes", ., .5, 0755, 2024-01-02, 1:20]\n');
    expect(doc!.value).to.deep.equal({ a: [true, true, 'yes', '.', 0.5, 493, '2024-01-02', '1:20'] });
  });

  it('numbers documents from 0, keeps empty ones, and reports syntax errors per document', () => {
    const docs = parseYamlDocuments('a: 1\n---\n---\nb: [1\n---\nc: 3\n');
    expect(docs.map((d) => d.index)).to.deep.equal([0, 1, 2, 3]);
    expect(docs[1]!.value).to.equal(null);
    expect(docs[2]!.error).to.be.a('string');
    expect(docs[3]!.value).to.deep.equal({ c: 3 });
  });

  it('takes y/n/on/off keys for booleans too, as kubectl does', () => {
    expect(parseYamlDocuments('y: 1\n')[0]!.value).to.deep.equal({ true: 1 });
  });

  it('resolves anchors and merge keys', () => {
    const [doc] = parseYamlDocuments('base: &b {x: 1}\nother:\n  <<: *b\n  z: 2\n');
    expect(doc!.value).to.deep.equal({ base: { x: 1 }, other: { x: 1, z: 2 } });
  });

  for (const c of PARITY_CASES) {
    it(`reads ${c.name} as kubectl does`, () => {
      const [doc] = parseYamlDocuments(c.yaml);
      if (c.spec === undefined) {
        expect(doc!.error).to.be.a('string');
        return;
      }
      expect(doc!.error).to.equal(undefined);
      expect((doc!.value as { spec: unknown }).spec).to.deep.equal(c.spec);
    });
  }

  it('resolves plain scalars as go-yaml v2 does', () => {
    expect(resolvePlain('0o17')).to.deep.equal({ kind: 'int', value: 15 });
    expect(resolvePlain('-0b11')).to.deep.equal({ kind: 'int', value: -3 });
    expect(resolvePlain('0x')).to.deep.equal({ kind: 'str' });
    expect(resolvePlain('5.')).to.deep.equal({ kind: 'float', value: 5 });
    expect(resolvePlain('1.2.3.4')).to.deep.equal({ kind: 'str' });
    expect(resolvePlain('Yes')).to.deep.equal({ kind: 'bool', value: true });
    expect(resolvePlain('yES')).to.deep.equal({ kind: 'str' });
    expect(resolvePlain('NULL')).to.deep.equal({ kind: 'null', value: null });
  });

  it('leaves block scalars, quoted strings and comments in flow collections alone', () => {
    const [doc] = parseYamlDocuments('a: ["x:", \'y:\'] # c: d,\nb: |\n  [e:, f]\n');
    expect(doc!.value).to.deep.equal({ a: ['x:', 'y:'], b: '[e:, f]\n' });
  });
});
