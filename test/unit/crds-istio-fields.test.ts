// weft's CRDs against the fields of Istio's (crds/testdata/istio-fields.json, with the Istio version it was taken
// from): every field Istio's CRD has, weft's must have too, or kubectl refuses valid Istio YAML as an unknown
// field; and weft's may have no field Istio lacks.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { crdFieldPathsOf } from '../../hack/istio-crd-fields.ts';
import { MESH_KINDS } from '../../src/api/kinds.ts';

const root = resolve(import.meta.dirname, '../..');
const istio = JSON.parse(readFileSync(join(root, 'crds/testdata/istio-fields.json'), 'utf8')) as {
  istioVersion: string;
  kinds: Record<string, string[]>;
};
const weft = crdFieldPathsOf(join(root, 'crds'));

describe(`crds/ against the fields of Istio's CRDs (${istio.istioVersion.split(' (')[0]})`, () => {
  it('names the Istio version the list was taken from, and lists every kind weft serves', () => {
    expect(istio.istioVersion).to.match(/Istio \d+\.\d+/);
    expect(Object.keys(istio.kinds).sort()).to.deep.equal(MESH_KINDS.map((k) => k.kind).sort());
  });

  for (const kind of MESH_KINDS.map((k) => k.kind)) {
    it(`${kind} has every field of Istio's, and none Istio lacks`, () => {
      const ours = new Set(weft[kind] ?? []);
      const theirs = new Set(istio.kinds[kind] ?? []);
      expect([...theirs].filter((p) => !ours.has(p)), 'missing from weft').to.deep.equal([]);
      expect([...ours].filter((p) => !theirs.has(p)), 'not in Istio').to.deep.equal([]);
    });
  }

  it('reads nested lists and maps', () => {
    expect(weft.VirtualService).to.include('spec.http[].match[].headers{}.exact');
    expect(weft.DestinationRule).to.include('spec.subsets[].trafficPolicy.portLevelSettings[].outlierDetection.outlierDetectionHttpErrorCodes');
  });
});
