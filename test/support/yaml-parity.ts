// YAML documents whose reading differs between YAML libraries, with the value kubectl's decoder (sigs.k8s.io/yaml,
// go-yaml v2) gives them. test/unit/cli-yaml.test.ts checks weftctl's reader against these values;
// test/integration/yaml-parity.test.ts checks them against kubectl itself.
export interface ParityCase {
  name: string;
  yaml: string;
  /** The document's `spec`, as kubectl reads it; undefined when kubectl refuses the document. */
  spec: unknown;
}

const doc = (name: string, spec: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\nspec:\n${spec}`;

export const PARITY_CASES: ParityCase[] = [
  {
    name: 'ipv6-in-flow-sequence',
    yaml: doc('ipv6-in-flow-sequence', '  addresses: [1.2.3.4, 001:db8::, "2001:db8::1", 2001:db8::2]\n'),
    spec: { addresses: ['1.2.3.4', '001:db8::', '2001:db8::1', '2001:db8::2'] },
  },
  {
    name: 'colon-before-flow-indicator',
    yaml: doc('colon-before-flow-indicator', '  m: {a:, b: c, d:e}\n  l: [x:, z]\n'),
    spec: { m: { 'a:': null, b: 'c', 'd:e': null }, l: ['x:', 'z'] },
  },
  {
    name: 'yaml-1-1-scalars',
    yaml: doc('yaml-1-1-scalars', '  v: [yes, on, Off, y, n, "yes", ~, null, ., .5, 0755, 09, 2024-01-02, 1:20, 1e3, 0x1F, 1_000, +5, -.5e2, 0b101]\n'),
    spec: { v: [true, true, false, true, false, 'yes', null, null, '.', 0.5, 493, 9, '2024-01-02', '1:20', 1000, 31, 1000, 5, -50, 5] },
  },
  {
    name: 'boolean-keys',
    yaml: doc('boolean-keys', '  y: 1\n  off: 2\n  "no": 3\n'),
    spec: { true: 1, false: 2, no: 3 },
  },
  {
    name: 'spaces-in-flow-scalars',
    yaml: doc('spaces-in-flow-scalars', '  l: [a b, c : d]\n'),
    spec: { l: ['a b', { c: 'd' }] },
  },
  {
    name: 'anchors-and-merge',
    yaml: doc('anchors-and-merge', '  base: &b {x: 1}\n  other:\n    <<: *b\n    z: 2\n'),
    spec: { base: { x: 1 }, other: { x: 1, z: 2 } },
  },
  {
    name: 'flow-collections-back-at-the-key-column',
    yaml: doc('flow-collections-back-at-the-key-column', '  hosts: [\n    "a.com",\n]\n  m: {\n  a: 1\n  }\n  v: [ab #c\n ]\n  w: [1,\n2]\n'),
    spec: { hosts: ['a.com'], m: { a: 1 }, v: ['ab'], w: [1, 2] },
  },
  {
    name: 'repeated-keys-overflow-and-explicit-tags',
    yaml: doc('repeated-keys-overflow-and-explicit-tags', '  a: 1\n  a: 2\n  v: [1e400, 12345678901234567890, !!str 1, !!int "3", !!float 1]\n'),
    spec: { a: 2, v: ['1e400', 12345678901234567000, '1', 3, 1] },
  },
  {
    name: 'null-key',
    yaml: doc('null-key', '  ~: 1\n'),
    spec: undefined,
  },
  {
    name: 'colon-starting-a-flow-value',
    yaml: doc('colon-starting-a-flow-value', '  addresses: [::1]\n'),
    spec: undefined,
  },
];
