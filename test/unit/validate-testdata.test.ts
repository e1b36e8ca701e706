// Every crds/testdata document of every kind through the offline path (the CRD's structural schema + weft's
// validator, as `weftctl validate` runs them): *-valid.yaml documents pass both without errors; *-invalid.yaml
// documents are refused with their expected-error substring, by the schema alone where annotated
// caught-by: schema, else by the validator. The registry must report what the kind's own validator does.
import { expect } from 'chai';
import { knownKinds, validateResource } from '../../src/validate/index.ts';
import { formatFinding } from '../../src/validate/result.ts';
import type { ValidationResult } from '../../src/validate/result.ts';
import { checkSchema } from '../../src/validate/schema.ts';
import { EXPECTED_ERROR, storageSchemas, testdataCases } from '../support/testdata.ts';
import type { Case } from '../support/testdata.ts';

// Each kind's own validator, from its module by the naming convention (src/validate/<kind>.ts exports
// validate<Kind>) rather than from the registry, so that the registry's dispatch is what gets checked.
const VALIDATORS: Record<string, (obj: never) => ValidationResult> = {};
for (const kind of knownKinds) {
  const mod = (await import(`../../src/validate/${kind.toLowerCase()}.ts`)) as Record<string, unknown>;
  VALIDATORS[kind] = mod[`validate${kind}`] as (obj: never) => ValidationResult;
}

const cases = testdataCases();
const schemas = storageSchemas();
const lines = (r: ValidationResult, kind: 'errors' | 'warnings' = 'errors') => r[kind].map(formatFinding);

function title(c: Case): string {
  const outcome = c.valid ? 'is accepted' : `is refused with "${c.expectedError}"${c.caughtBy === 'schema' ? ' by the schema' : ''}`;
  return `${c.file}:${c.index} ${c.doc.metadata.name} ${outcome}`;
}

function check(c: Case, kind: string): void {
  const registry = validateResource(c.doc);
  const direct = VALIDATORS[kind]!(c.doc as never);
  const semantic = lines(registry);
  expect(semantic, `validateResource and validate${kind} disagree`).to.deep.equal(lines(direct));
  expect(lines(registry, 'warnings'), `validateResource and validate${kind} disagree`).to.deep.equal(lines(direct, 'warnings'));

  const structural = lines(checkSchema(c.doc, schemas.get(kind)!));
  if (c.valid) {
    expect(semantic, 'validator').to.deep.equal([]);
    expect(structural, 'structural schema').to.deep.equal([]);
    return;
  }
  const found = c.caughtBy === 'schema' ? structural : semantic;
  expect(found.some((l) => l.includes(c.expectedError!)), found.join('\n')).to.equal(true);
}

describe('crds/testdata through the schema and the validators', () => {
  it('has valid and invalid documents for every kind, and a validator and a CRD for each', () => {
    const files = new Set(cases.map((c) => c.file));
    for (const kind of knownKinds) {
      expect(files.has(`${kind.toLowerCase()}-valid.yaml`), kind).to.equal(true);
      expect(files.has(`${kind.toLowerCase()}-invalid.yaml`), kind).to.equal(true);
      expect(VALIDATORS[kind], kind).to.be.a('function');
      expect(schemas.get(kind), kind).to.be.an('object');
    }
  });

  for (const prefix of [...new Set(cases.map((c) => c.file.replace(/-(in)?valid\.yaml$/, '')))]) {
    const mine = cases.filter((c) => c.file.startsWith(`${prefix}-`));
    // `virtualservice` → `VirtualService`; undefined when no kind matches the file name.
    const kind = knownKinds.find((k) => k.toLowerCase() === prefix);

    describe(prefix, () => {
      it('every document is of the kind its file names, uniquely named, without namespace; invalid ones say why', () => {
        expect(kind, `no kind for ${prefix}`).to.be.a('string');
        const names = new Set<string>();
        for (const c of mine) {
          const where = `${c.file}:${c.index}`;
          expect(c.doc.kind, where).to.equal(kind);
          expect(c.doc.metadata?.name, where).to.be.a('string');
          expect(c.doc.metadata.namespace, where).to.equal(undefined);
          expect(names.has(c.doc.metadata.name), `${where} ${c.doc.metadata.name} is not unique`).to.equal(false);
          names.add(c.doc.metadata.name);
          if (!c.valid) expect(c.doc.metadata.annotations?.[EXPECTED_ERROR], `${where} ${EXPECTED_ERROR}`).to.be.a('string');
        }
      });

      for (const c of mine) {
        it(title(c), () => check(c, kind!));
      }
    });
  }
});
