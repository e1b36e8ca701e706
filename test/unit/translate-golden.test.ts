// Golden translation tests: each test/golden/<case>.yaml (see test/support/golden-case.ts) is built into a
// snapshot and its workloads translated; the output must equal test/golden/<case>.golden.yaml
// (REFRESH_GOLDEN=1 npm run test:unit rewrites them), survive encode → decode unchanged, come out byte-identical
// from shuffled input, and send the case's simulated requests where the case expects.
import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import { buildSnapshot } from '../../src/model/snapshot.ts';
import type { Snapshot, SnapshotInput } from '../../src/model/types.ts';
import { decodeProxyConfig, encodeProxyConfig } from '../../src/translate/envoy/proto.ts';
import { translate } from '../../src/translate/index.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { loadCases } from '../support/golden-case.ts';
import type { GoldenCase } from '../support/golden-case.ts';
import { mismatches, requestOf, runSimulation } from '../support/golden-sim.ts';
import { goldenYaml, lineDiff, sortKeys, valueDiffs } from '../support/golden-text.ts';
import { seeded, shuffle as shuffleWith } from '../support/random.ts';

const dir = resolve(import.meta.dirname, '../golden');
const refresh = process.env.REFRESH_GOLDEN === '1';

function translateAll(c: GoldenCase, snapshot: Snapshot): Map<string, ProxyConfig> {
  const out = new Map<string, ProxyConfig>();
  for (const ref of c.workloads) {
    const [ns, name] = ref.split('/');
    const w = snapshot.workload(ns ?? '', name ?? '');
    if (!w) throw new Error(`${c.name}: no workload ${ref} in the snapshot (workloads: ${snapshot.workloads.map((x) => `${x.namespace}/${x.name}`).join(', ')})`);
    out.set(ref, translate(w, snapshot));
  }
  return out;
}

/** A deterministic shuffle (mulberry32) of every list of the input, config lists included. */
function shuffled(input: SnapshotInput, seed: number): SnapshotInput {
  const rnd = seeded(seed);
  const shuffle = <T>(xs: readonly T[]): T[] => shuffleWith(xs, rnd);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) out[k] = Array.isArray(v) ? shuffle(v) : v;
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input.config)) config[k] = shuffle(v as unknown[]);
  out.config = config;
  return out as unknown as SnapshotInput;
}

const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

describe('translate: golden cases', () => {
  for (const c of loadCases(dir)) {
    describe(c.name, () => {
      let snapshot: Snapshot;
      let outputs: Map<string, ProxyConfig>;
      before(() => {
        snapshot = buildSnapshot(c.input);
        outputs = translateAll(c, snapshot);
      });

      it('matches its golden file', () => {
        const file = resolve(dir, `${c.name}.golden.yaml`);
        const text = goldenYaml([...outputs.values()]);
        if (refresh) {
          writeFileSync(file, text);
          return;
        }
        if (!existsSync(file)) expect.fail(`${file} does not exist: REFRESH_GOLDEN=1 npm run test:unit writes it`);
        const golden = readFileSync(file, 'utf8');
        if (golden !== text) expect.fail(`${c.name}: output differs from its golden file (REFRESH_GOLDEN=1 npm run test:unit if intended)\n${lineDiff(golden, text)}`);
      });

      it('encodes and decodes to the same config', () => {
        for (const [ref, pc] of outputs) {
          const diffs = valueDiffs(plain(pc), plain(decodeProxyConfig(encodeProxyConfig(pc))));
          if (diffs.length > 0) expect.fail(`${ref}: decode(encode(x)) differs from x (x spells a proto3 default?)\n${diffs.join('\n')}`);
        }
      });

      it('gives byte-identical encoded output from shuffled input', () => {
        for (const seed of [1, 2, 3]) {
          const again = translateAll(c, buildSnapshot(shuffled(c.input, seed)));
          for (const [ref, pc] of outputs) {
            const a = encodeProxyConfig(pc);
            const b = encodeProxyConfig(again.get(ref)!);
            if (!Buffer.from(a).equals(Buffer.from(b))) {
              expect.fail(`${ref}: seed ${seed} changed the output\n${lineDiff(goldenYaml([pc]), goldenYaml([again.get(ref)!]))}`);
            }
          }
        }
      });

      for (const [i, s] of c.simulate.entries()) {
        it(`simulate: ${s.name ?? `#${i}`}`, () => {
          const ref = s.workload ?? c.workloads[0]!;
          const pc = outputs.get(ref);
          if (!pc) expect.fail(`simulate: workload ${ref} is not one the case translates`);
          // The sidecar reads the decoded bundle: simulate on that.
          const config = decodeProxyConfig(encodeProxyConfig(pc));
          const request = requestOf(s.request, snapshot, ref.split('/')[0]!);
          const view = runSimulation(config, request, s.random ?? 0);
          const problems = mismatches(s.expect, view);
          if (problems.length > 0) {
            expect.fail(`${problems.join('\n')}\n--- request\n${stringify(request)}--- outcome\n${stringify(sortKeys(view), { lineWidth: 0 })}`);
          }
        });
      }
    });
  }
});
