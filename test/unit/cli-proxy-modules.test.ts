// What `weft proxy` loads: the CLI entry plus the sidecar's modules (the same imports runProxy makes) in a fresh
// Node, with a module hook listing every file loaded. The sidecar's memory depends on it: the Kubernetes client,
// the operator, the webhook and the validators must stay out; from the control plane only the logger, the
// operator's default names and the bundle decoder (with the Envoy descriptor it needs) come in.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const HOOK = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
globalThis.__loaded = [];
registerHooks({ load(url, ctx, next) { globalThis.__loaded.push(url); return next(url, ctx); } });
`)}`;

describe('weft proxy: modules loaded', () => {
  it('loads no operator, webhook or Kubernetes client code', function () {
    this.timeout(20_000);
    const mod = (p: string) => JSON.stringify(pathToFileURL(resolve(ROOT, p)).href);
    const script = `
      await import(${mod('src/cli/weft.ts')});
      await import(${mod('src/controllers/log.ts')});
      await import(${mod('src/proxy/sidecar.ts')});
      await import(${mod('src/proxy/sidecar-parts.ts')});
      process.stdout.write(JSON.stringify(globalThis.__loaded));`;
    const r = spawnSync(process.execPath, ['--import', HOOK, '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 15_000 });
    expect(r.status, r.stderr).to.equal(0);
    const loaded = (JSON.parse(r.stdout) as string[]).filter((u) => u.startsWith('file:')).map((u) => u.slice(pathToFileURL(ROOT).href.length + 1));
    expect(loaded).to.include('src/proxy/sidecar.ts');
    expect(loaded.filter((p) => p.includes('node_modules/@kubernetes/'))).to.deep.equal([]);
    const controlPlane = loaded.filter((p) => /^src\/(controllers|webhooks|validate|api|model)\//.test(p));
    expect(controlPlane).to.have.members(['src/controllers/log.ts', 'src/controllers/operator-defaults.ts', 'src/controllers/proxy-bundle.ts']);
    const translate = loaded.filter((p) => p.startsWith('src/translate/'));
    expect(translate.every((p) => p.startsWith('src/translate/envoy/') || p === 'src/translate/identity-files.ts'), translate.join(' ')).to.equal(true);
  });
});
