// src/translate/envoy/descriptor.json is generated from Envoy's protos and proto/: regenerating must reproduce
// the committed file byte for byte.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

describe('envoy descriptor', function () {
  this.timeout(60000);
  it('src/translate/envoy/descriptor.json is up to date (run `npm run codegen`)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-descriptor-'));
    try {
      const out = join(dir, 'descriptor.json');
      execFileSync(process.execPath, [join(root, 'hack/envoy-descriptor.ts'), '--out', out], { stdio: 'pipe' });
      const committed = readFileSync(join(root, 'src/translate/envoy/descriptor.json'), 'utf8');
      expect(readFileSync(out, 'utf8') === committed, 'descriptor.json is stale: run `npm run codegen`').to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
