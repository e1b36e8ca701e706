import { expect } from 'chai';
import { checkSchema, normalize } from '../../src/validate/schema.ts';
import type { JSONSchemaProps } from '../../src/validate/schema.ts';
import { formatFinding } from '../../src/validate/result.ts';

const schema: JSONSchemaProps = {
  type: 'object',
  properties: {
    spec: {
      type: 'object',
      required: ['hosts'],
      properties: {
        hosts: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 3, 'x-kubernetes-list-type': 'set' },
        resolution: { type: 'string', enum: ['NONE', 'STATIC', 'DNS'] },
        replicas: { type: 'integer', format: 'int32', minimum: 0 },
        ratio: { type: 'number', minimum: 0, maximum: 1, exclusiveMaximum: true },
        port: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] },
        name: { type: 'string', pattern: '^[a-z]+$', maxLength: 5 },
        http: {
          type: 'array',
          items: {
            type: 'object',
            properties: { timeout: { type: 'string' }, mode: { type: 'string', default: 'FAST' } },
          },
        },
        labels: { type: 'object', additionalProperties: { type: 'string' }, maxProperties: 2 },
        config: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        anything: { 'x-kubernetes-preserve-unknown-fields': true },
        ports: {
          type: 'array',
          'x-kubernetes-list-type': 'map',
          minItems: 1,
          'x-kubernetes-list-map-keys': ['name'],
          items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, number: { type: 'integer' } } },
        },
        note: { type: 'string', nullable: true },
        when: { type: 'string', format: 'date-time' },
        choice: {
          type: 'object',
          properties: { a: { type: 'string' }, b: { type: 'string' } },
          oneOf: [{ required: ['a'] }, { required: ['b'] }],
        },
      },
    },
    status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
  },
};

function lines(spec: unknown, extra: Record<string, unknown> = {}): string[] {
  const obj = { apiVersion: 'x.io/v1', kind: 'Thing', metadata: { name: 'a', labels: { x: 'y' } }, spec, ...extra };
  return checkSchema(obj, schema).errors.map(formatFinding);
}

describe('validate/schema', () => {
  it('accepts a conforming object, with apiVersion/kind/metadata always allowed', () => {
    expect(lines({
      hosts: ['a', 'b'], resolution: 'DNS', replicas: 3, ratio: 0.5, port: 'http', name: 'abc',
      http: [{ timeout: '5s' }], labels: { a: 'b' }, config: { any: { nested: [1] } }, anything: 7,
      ports: [{ name: 'x', number: 1 }, { name: 'y', number: 1 }], note: null, when: '2024-01-02T03:04:05Z',
      choice: { a: 'x' },
    })).to.deep.equal([]);
  });

  it('reports type errors in the API server words, integer vs string and number', () => {
    expect(lines({ hosts: ['a'], http: [{ timeout: 5 }] })).to.deep.equal([
      'spec.http[0].timeout: Invalid value: "integer": spec.http[0].timeout in body must be of type string: "integer"',
    ]);
    expect(lines({ hosts: ['a'], replicas: 1.5 })).to.deep.equal([
      'spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number"',
    ]);
    expect(lines({ hosts: 'a' })[0]).to.match(/^spec\.hosts: Invalid value: "string": .* must be of type array/);
    // a mapping where a list belongs: strict decoding reports its keys as unknown fields, as the API server does
    expect(lines({ hosts: { a: 1 } })).to.deep.equal(['spec.hosts.a: unknown field "spec.hosts.a"']);
    expect(lines({ hosts: ['a'], ratio: 0 })).to.deep.equal([]); // an integer is a number
  });

  it('reports unknown fields at any depth, but not under preserve-unknown-fields', () => {
    // decoding fails on unknown fields before validation runs, so they are all that is reported
    expect(lines({ hosts: ['a'], foo: 1, resolution: 'X', http: [{ timeot: '1s' }] })).to.deep.equal([
      'spec.foo: unknown field "spec.foo"',
      'spec.http[0].timeot: unknown field "spec.http[0].timeot"',
    ]);
    expect(lines({ hosts: ['a'] }, { extra: true })).to.deep.equal(['extra: unknown field "extra"']);
    expect(lines({ hosts: ['a'] }, { status: { whatever: 1 } })).to.deep.equal([]);
  });

  it('checks required, enum and pattern', () => {
    expect(lines({})).to.deep.equal(['spec.hosts: Required value']);
    expect(lines({ hosts: ['a'], resolution: 'X' })).to.deep.equal([
      'spec.resolution: Unsupported value: "X": supported values: "NONE", "STATIC", "DNS"',
    ]);
    expect(lines({ hosts: ['a'], name: 'AB' })).to.deep.equal([
      'spec.name: Invalid value: "AB": spec.name in body should match \'^[a-z]+$\'',
    ]);
  });

  it('checks bounds of numbers, strings, lists and maps', () => {
    expect(lines({ hosts: ['a'], replicas: -1 })).to.deep.equal([
      'spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0',
    ]);
    expect(lines({ hosts: ['a'], ratio: 1 })).to.deep.equal([
      'spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1',
    ]);
    expect(lines({ hosts: ['a'], replicas: 2 ** 31 })[0]).to.match(/out of range for int32/);
    expect(lines({ hosts: ['a'], name: 'abcdef' })).to.deep.equal(['spec.name: Too long: may not be more than 5 bytes']);
    expect(lines({ hosts: [''] })).to.deep.equal(['spec.hosts[0]: Invalid value: "": spec.hosts[0] in body should be at least 1 chars long']);
    expect(lines({ hosts: ['a'], ports: [] })).to.deep.equal(['spec.ports: Invalid value: 0: spec.ports in body should have at least 1 items']);
    expect(lines({ hosts: ['a', 'b', 'c', 'd'] })).to.deep.equal(['spec.hosts: Too many: 4: must have at most 3 items']);
    expect(lines({ hosts: ['a'], labels: { a: 'x', b: 'y', c: 'z' } })).to.deep.equal(['spec.labels: Too many: 3: must have at most 2 items']);
    expect(lines({ hosts: ['a'], labels: { a: 1 } })[0]).to.match(/^spec\.labels\.a: .*must be of type string/);
  });

  it('checks int-or-string', () => {
    expect(lines({ hosts: ['a'], port: 80 })).to.deep.equal([]);
    expect(lines({ hosts: ['a'], port: true })[0]).to.equal(
      'spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
    );
  });

  it('enforces set and map list uniqueness', () => {
    expect(lines({ hosts: ['a', 'b', 'a'] })).to.deep.equal(['spec.hosts[2]: Duplicate value: "a"']);
    expect(lines({ hosts: ['a'], ports: [{ name: 'x', number: 1 }, { name: 'x', number: 2 }] })).to.deep.equal([
      'spec.ports[1]: Duplicate value: {"name":"x"}',
    ]);
    expect(lines({ hosts: ['a'], ports: [{ number: 1 }] })).to.deep.equal(['spec.ports[0].name: Required value']);
  });

  it('prunes nulls of non-nullable fields, keeps nullable ones, and applies defaults', () => {
    expect(lines({ hosts: ['a'], resolution: null, note: null })).to.deep.equal([]);
    expect(lines({ hosts: null })).to.deep.equal(['spec.hosts: Required value']);
    expect(lines({ hosts: [null] })[0]).to.match(/^spec\.hosts\[0\]: Invalid value: "null"/);
    const n = normalize({ spec: { hosts: ['a'], resolution: null, http: [{}] } }, schema);
    expect(n).to.deep.equal({ spec: { hosts: ['a'], http: [{ mode: 'FAST' }] } });
  });

  it('gives each object its own copy of an object default', () => {
    const tlsDefault = { mode: 'SIMPLE', sni: ['a'] };
    const withDefault: JSONSchemaProps = { type: 'object', properties: { tls: { type: 'object', default: tlsDefault } } };
    const a = normalize({}, withDefault) as { tls: { mode: string; sni: string[] } };
    a.tls.mode = 'MUTUAL';
    a.tls.sni.push('b');
    expect(normalize({}, withDefault)).to.deep.equal({ tls: { mode: 'SIMPLE', sni: ['a'] } });
    expect(tlsDefault).to.deep.equal({ mode: 'SIMPLE', sni: ['a'] });
  });

  it('checks string formats and oneOf', () => {
    expect(lines({ hosts: ['a'], when: 'yesterday' })[0]).to.match(/must be of type date-time/);
    expect(lines({ hosts: ['a'], choice: {} })[0]).to.match(/^spec\.choice: .*must validate one and only one schema \(oneOf\)/);
    expect(lines({ hosts: ['a'], choice: { a: 'x', b: 'y' } })[0]).to.match(/oneOf/);
  });
});
