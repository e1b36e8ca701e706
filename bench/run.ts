// `npm run bench [-- <section>… [--json]]`: runs benchmark sections and prints one JSON report on stdout.
// Progress goes to stderr (silenced by --json). Each section stops by itself (its own deadline); the runner
// adds an overall one. Sections: translate (bench/translate.ts), translate-cpu (bench/translate-cpu.ts), pki (bench/pki.ts),
// proxy (bench/proxy.ts; `--profile` runs its sidecar under --cpu-prof), convergence (bench/convergence.ts).
import { runConvergenceBench } from './convergence.ts';
import { runPkiBench } from './pki.ts';
import { runProxyBench } from './proxy.ts';
import { runTranslateCpuBench } from './translate-cpu.ts';
import { runTranslateBench } from './translate.ts';

type Section = (log: (line: string) => void) => Promise<Record<string, unknown>>;

const SECTIONS: Record<string, Section> = {
  translate: runTranslateBench,
  'translate-cpu': runTranslateCpuBench,
  pki: runPkiBench,
  proxy: runProxyBench,
  convergence: runConvergenceBench,
};

const OVERALL_DEADLINE_MS = 20 * 60_000;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const unknownFlags = args.filter((a) => a.startsWith('-') && a !== '--json' && a !== '--profile');
  const wanted = args.filter((a) => !a.startsWith('-'));
  const missing = wanted.filter((s) => !(s in SECTIONS));
  if (unknownFlags.length > 0 || missing.length > 0) {
    process.stderr.write(`usage: npm run bench -- [${Object.keys(SECTIONS).join('|')}]… [--json] [--profile]\n`);
    process.exitCode = 2;
    return;
  }
  const log = json ? () => {} : (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const deadline = setTimeout(() => {
    process.stderr.write(`[bench] gave up after ${OVERALL_DEADLINE_MS / 60_000} minutes\n`);
    process.exit(1);
  }, OVERALL_DEADLINE_MS);
  deadline.unref();
  const report: Record<string, unknown> = {};
  let failed = false;
  for (const name of wanted.length > 0 ? wanted : Object.keys(SECTIONS)) {
    try {
      report[name] = await SECTIONS[name]!(log);
    } catch (err) {
      failed = true;
      report[name] = { error: (err as Error).stack ?? String(err) };
    }
  }
  process.stdout.write(`${JSON.stringify(report, null, json ? undefined : 2)}\n`);
  if (failed) process.exitCode = 1;
}

await main();
