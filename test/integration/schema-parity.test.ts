// The offline structural-schema check (src/validate/schema.ts, used by `weftctl validate`) against the real API
// server: for objects that break the schema, every line weft prints offline must be what the API server says.
import { expect } from 'chai';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { loadCrdSchemas } from '../../src/cli/crds.ts';
import { formatFinding } from '../../src/validate/result.ts';
import { checkSchema } from '../../src/validate/schema.ts';
import { createNamespace, installCrds, sharedCluster, type Cluster } from '../support/cluster.ts';
import { testdataCases } from '../support/testdata.ts';

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: unknown };

const vs = (name: string, spec: unknown): Doc => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name }, spec });
const se = (name: string, spec: unknown): Doc => ({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name }, spec });
const ap = (name: string, spec: unknown): Doc => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name }, spec });
const http = (extra: Record<string, unknown>) => ({ hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }], ...extra }] });
const port = { number: 80, name: 'http', protocol: 'HTTP' };

/** One object per kind of structural error schema.ts reports. */
const handmade: Doc[] = [
  vs('type-string', http({ timeout: 5 })),
  vs('type-array', { hosts: 'reviews', http: [{ route: [{ destination: { host: 'reviews' } }] }] }),
  vs('unknown-field', { ...http({}), hostz: ['x'] }),
  vs('unknown-nested', http({ timeot: '5s' })),
  vs('required', { hosts: ['reviews'], http: [{ route: [{ weight: 100 }] }] }),
  se('minimum', { hosts: ['a.example.com'], ports: [{ ...port, number: -1 }] }),
  se('max-items', { hosts: Array.from({ length: 257 }, (_, i) => `h${i}.example.com`), ports: [port] }),
  se('map-list-duplicate', { hosts: ['a.example.com'], ports: [port, { ...port, number: 81 }] }),
  se('max-length', { hosts: ['a.example.com'], addresses: ['1'.repeat(65)], ports: [port] }),
  se('enum', { hosts: ['a.example.com'], ports: [port], resolution: 'SOMETIMES' }),
  ap('pattern', { targetRef: { kind: '1Service', name: 'x' } }),
  ap('min-length', { targetRef: { kind: 'Service', name: '' } }),
];

describe('offline schema check agrees with the API server', function () {
  this.timeout(120_000);
  let cp: Cluster;
  let kc: KubeConfig;
  let ns: string;
  const crds = loadCrdSchemas();

  before(async () => {
    cp = await sharedCluster();
    kc = cp.kubeConfig();
    await installCrds(kc);
    ns = await createNamespace(kc, 'schema');
  });

  after(async () => {
    if (kc) await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: ns }).catch(() => undefined);
  });

  /** The lines weft prints offline that the API server's answer must contain (unknown fields: its wording). */
  function offline(doc: Doc): string[] {
    const [group, version] = doc.apiVersion.split('/');
    const schema = crds.get(`${group}/${doc.kind}`)!.versions.get(version!)!;
    return checkSchema(doc, schema).errors.map((f) => (f.message.startsWith('unknown field') ? f.message : formatFinding(f)));
  }

  async function check(doc: Doc): Promise<void> {
    const lines = offline(doc);
    expect(lines, `${doc.metadata.name}: schema.ts finds nothing wrong`).to.not.deep.equal([]);
    const r = await cp.kubectlAsync(['create', '--dry-run=server', '-n', ns, '-f', '-'], JSON.stringify(doc));
    expect(r.status, `${doc.metadata.name}: the API server accepted it`).to.not.equal(0);
    const missing = lines.filter((l) => !r.stderr.includes(l));
    expect(missing, `${doc.metadata.name}\n  API server: ${r.stderr.trim()}\n  offline:    ${lines.join('\n              ')}`).to.deep.equal([]);
  }

  for (const doc of handmade) {
    it(`${doc.kind} ${doc.metadata.name}`, () => check(doc));
  }

  it('every crds/testdata case caught by the schema alone', async () => {
    const cases = testdataCases().filter((c) => c.caughtBy === 'schema');
    const failures: string[] = [];
    for (const c of cases) {
      try {
        await check(c.doc as unknown as Doc);
      } catch (e) {
        failures.push(`${c.file}:${c.index} ${(e as Error).message}`);
      }
    }
    expect(failures, failures.join('\n\n')).to.deep.equal([]);
  });
});
