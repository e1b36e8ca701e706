// weftctl as users run it: a child process over files. Every crds/testdata document must come out as its file
// name says: *-valid.yaml documents without errors, *-invalid.yaml documents with their expected error.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

const root = resolve(import.meta.dirname, '../..');
const cli = join(root, 'src/cli/weftctl.ts');
const testdata = join(root, 'crds/testdata');

function weftctl(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Doc {
  index: number;
  name: string;
  expected?: string;
}

function docs(file: string): Doc[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d, index) => ({ index, value: d.toJS() as { metadata?: { name?: string; annotations?: Record<string, string> } } | null }))
    .filter((d) => d.value)
    .map(({ index, value }) => ({
      index,
      name: value!.metadata?.name ?? '',
      expected: value!.metadata?.annotations?.['test.weft.dev/expected-error'],
    }));
}

/** Error lines (not warnings) of one document, keyed by its index in the file. */
function errorLines(stdout: string, file: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(`${file}:`)) continue;
    const m = /^(\d+) /.exec(line.slice(file.length + 1));
    if (!m) continue;
    const i = Number(m[1]);
    out.set(i, [...(out.get(i) ?? []), line]);
  }
  return out;
}

const files = readdirSync(testdata).filter((f) => /-(valid|invalid)\.yaml$/.test(f)).sort();

describe('weftctl validate over crds/testdata', function () {
  this.timeout(60_000);

  for (const f of files.filter((x) => x.endsWith('-valid.yaml'))) {
    it(`accepts every document of ${f}`, () => {
      const file = join(testdata, f);
      const r = weftctl(['validate', '-f', file]);
      const errors = [...errorLines(r.stdout, file).values()].flat();
      expect(errors, r.stdout).to.deep.equal([]);
      expect(r.status, r.stdout + r.stderr).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`${docs(file).length} document\\(s\\): ${docs(file).length} valid, 0 invalid`));
    });
  }

  for (const f of files.filter((x) => x.endsWith('-invalid.yaml'))) {
    it(`refuses every document of ${f} with its expected error`, () => {
      const file = join(testdata, f);
      const r = weftctl(['validate', '-f', file]);
      expect(r.status, r.stderr).to.equal(1);
      const byDoc = errorLines(r.stdout, file);
      const problems: string[] = [];
      for (const d of docs(file)) {
        const lines = byDoc.get(d.index) ?? [];
        if (lines.length === 0) problems.push(`${d.name} (document ${d.index}) was accepted`);
        else if (!d.expected) problems.push(`${d.name} has no test.weft.dev/expected-error annotation`);
        else if (!lines.some((l) => l.includes(d.expected!))) problems.push(`${d.name}: "${d.expected}" not in:\n    ${lines.join('\n    ')}`);
      }
      expect(problems, problems.join('\n')).to.deep.equal([]);
    });
  }
});

describe('weftctl', function () {
  this.timeout(30_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'weftctl-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const vs = (name: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: shop
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}${extra}
`;

  it('prints one line per problem with file, document, kind, namespace/name and field', () => {
    const file = join(dir, 'mixed.yaml');
    writeFileSync(file, `${vs('good')}---\n${vs('bad', '\n    timeout: 5')}---\n${vs('odd', '\n    bogus: 1')}`);
    const r = weftctl(['validate', '-f', file]);
    expect(r.status).to.equal(1);
    expect(r.stdout).to.include(`${file}:1 VirtualService shop/bad: spec.http[0].timeout: Invalid value: "integer": spec.http[0].timeout in body must be of type string`);
    expect(r.stdout).to.include(`${file}:2 VirtualService shop/odd: spec.http[0].bogus: unknown field "spec.http[0].bogus"`);
    expect(r.stdout).not.to.include(':0 VirtualService');
    expect(r.stdout).to.match(/3 document\(s\): 1 valid, 2 invalid/);
  });

  it('reads standard input and directories, and exits 0 when all is valid', () => {
    writeFileSync(join(dir, 'a.yaml'), vs('a'));
    writeFileSync(join(dir, 'b.yml'), vs('b'));
    writeFileSync(join(dir, 'notes.txt'), 'not yaml: [');
    const sub = mkdtempSync(join(dir, 'd-'));
    writeFileSync(join(sub, 'c.yaml'), vs('c'));
    const r = weftctl(['validate', '-f', sub, '-f', '-'], vs('stdin'));
    expect(r.status, r.stdout).to.equal(0);
    expect(r.stdout).to.match(/2 document\(s\): 2 valid, 0 invalid/);
  });

  it('reports unserved versions, and skips other API groups', () => {
    const r = weftctl(['validate', '-f', '-'], `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\n${vs('x').replace('/v1', '/v2')}`);
    expect(r.status).to.equal(1);
    expect(r.stdout).not.to.include('Deployment');
    expect(r.stdout).to.match(/<stdin>:1 VirtualService shop\/x: apiVersion: Unsupported value: "networking.istio.io\/v2"/);
    expect(r.stdout).to.match(/, 1 skipped$/m);
  });

  it('reports every kind of Istio\'s API groups that weft does not support, unless --skip-unknown', () => {
    const doc = (apiVersion: string, kind: string, name: string) => `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: ${name}}\nspec: {}\n`;
    const input = [
      doc('telemetry.istio.io/v1', 'Telemetry', 'mesh-default'),
      doc('extensions.istio.io/v1alpha1', 'WasmPlugin', 'plugin'),
      doc('networking.istio.io/v1alpha3', 'EnvoyFilter', 'filter'),
      doc('networking.istio.io/v1', 'Sidecar', 'sc'),
      doc('networking.istio.io/v1beta1', 'ProxyConfig', 'pc'),
      doc('networking.istio.io/v1', 'WorkloadGroup', 'wg'),
      doc('install.istio.io/v1alpha1', 'IstioOperator', 'op'),
      doc('v1', 'ConfigMap', 'cm'),
    ].join('---\n');
    const r = weftctl(['validate', '-f', '-'], input);
    expect(r.status, r.stdout).to.equal(1);
    const kinds = ['Telemetry', 'WasmPlugin', 'EnvoyFilter', 'Sidecar', 'ProxyConfig', 'WorkloadGroup', 'IstioOperator'];
    kinds.forEach((kind, i) => {
      expect(r.stdout).to.match(new RegExp(`^<stdin>:${i} ${kind} default/\\S+: kind: .*${kind}.* is not supported by weft`, 'm'));
    });
    expect(r.stdout).to.match(/7 document\(s\): 0 valid, 7 invalid \(7 error\(s\), 0 warning\(s\)\), 1 skipped/);
    const skipped = weftctl(['validate', '--skip-unknown', '-f', '-'], input);
    expect(skipped.status, skipped.stdout).to.equal(0);
    expect(skipped.stdout).to.match(/0 document\(s\): 0 valid, 0 invalid \(0 error\(s\), 0 warning\(s\)\), 8 skipped/);
  });

  it('prints warnings with a warning: prefix without failing', () => {
    const r = weftctl(['validate', '-f', '-'], `${vs('w')}  - route:\n    - destination: {host: ratings}\n`);
    expect(r.stdout).to.match(/^warning: <stdin>:0 VirtualService shop\/w: /m);
    expect(r.status).to.equal(0);
  });

  it('reports YAML syntax errors per document', () => {
    const r = weftctl(['validate', '-f', '-'], 'a: [1\n');
    expect(r.status).to.equal(1);
    expect(r.stdout).to.match(/^<stdin>:0: <yaml>: /m);
  });

  it('exits 2 on usage errors and prints help and version', () => {
    expect(weftctl(['validate']).status).to.equal(2);
    expect(weftctl(['validate', '-f']).status).to.equal(2);
    expect(weftctl(['frobnicate']).status).to.equal(2);
    expect(weftctl([]).status).to.equal(2);
    const help = weftctl(['help']);
    expect(help.status).to.equal(0);
    expect(help.stdout).to.include('weftctl validate -f FILE');
    expect(weftctl(['version']).stdout).to.match(/^weftctl \d+\.\d+\.\d+/);
  });
});
