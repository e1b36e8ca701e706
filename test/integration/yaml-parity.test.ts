// weftctl reads YAML as kubectl does: for the parity cases (test/support/yaml-parity.ts) and for every
// crds/testdata file, what `kubectl create --dry-run=client -o json` decodes equals what parseYamlDocuments gives.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseYamlDocuments } from '../../src/cli/yaml.ts';
import { installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';
import { PARITY_CASES } from '../support/yaml-parity.ts';

const testdata = resolve(import.meta.dirname, '../../crds/testdata');

/** kubectl's reading of a YAML stream: its objects, in order. */
async function kubectlReads(cp: Cluster, yaml: string): Promise<unknown[] | 'refused'> {
  const r = await cp.kubectlAsync(['create', '--dry-run=client', '--validate=false', '-n', 'default', '-o', 'json', '-f', '-'], yaml);
  if (r.status !== 0 && /error converting YAML to JSON/.test(r.stderr)) return 'refused';
  expect(r.status, r.stderr).to.equal(0);
  // One JSON object per document, one after the other.
  return r.stdout.split(/(?<=^})\n(?=^{)/m).filter((t) => t.trim() !== '').map((t) => JSON.parse(t) as unknown);
}

/** Our reading, with what kubectl adds to every object it prints (the namespace given with -n). */
function weftReads(yaml: string): unknown[] | 'refused' {
  const docs = parseYamlDocuments(yaml);
  if (docs.some((d) => d.error !== undefined)) return 'refused';
  return docs
    .filter((d) => d.value !== null && d.value !== undefined)
    .map((d) => {
      const obj = d.value as { metadata?: Record<string, unknown> };
      return { ...obj, metadata: { ...obj.metadata, namespace: obj.metadata?.namespace ?? 'default' } };
    });
}

describe('weftctl reads YAML as kubectl does', function () {
  this.timeout(120_000);
  let cp: Cluster;

  before(async () => {
    cp = await sharedCluster();
    await installCrds(cp.kubeConfig());
  });

  for (const c of PARITY_CASES) {
    it(c.name, async () => {
      const theirs = await kubectlReads(cp, c.yaml);
      if (c.spec === undefined) expect(theirs, 'kubectl').to.equal('refused');
      else expect((theirs as Array<{ spec: unknown }>)[0]!.spec, 'kubectl').to.deep.equal(c.spec);
      expect(weftReads(c.yaml)).to.deep.equal(theirs);
    });
  }

  for (const file of readdirSync(testdata).filter((f) => f.endsWith('.yaml')).sort()) {
    it(`crds/testdata/${file}`, async () => {
      const yaml = readFileSync(join(testdata, file), 'utf8');
      expect(weftReads(yaml)).to.deep.equal(await kubectlReads(cp, yaml));
    });
  }
});
