// src/api is generated from crds/: regenerating must reproduce the committed files byte for byte.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

describe('codegen', function () {
  this.timeout(60000);
  it('src/api is up to date with crds/ (run `npm run codegen`)', () => {
    const out = mkdtempSync(join(tmpdir(), 'weft-codegen-'));
    try {
      execFileSync(process.execPath, [join(root, 'hack/codegen.ts'), '--out', out], { stdio: 'pipe' });
      const committed = readdirSync(join(root, 'src/api')).sort();
      expect(readdirSync(out).sort()).to.deep.equal(committed);
      for (const f of committed) {
        expect(readFileSync(join(out, f), 'utf8'), f).to.equal(readFileSync(join(root, 'src/api', f), 'utf8'));
      }
      expect(committed).to.include('virtualservice.ts');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
