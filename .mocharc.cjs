// One run covers every tier; each tier's own suites start what they need (the API server for integration).
// WEFT_TIERS=unit (or unit,integration) narrows the run; a file list after `--` narrows it further.
const tiers = (process.env.WEFT_TIERS || 'unit,integration,e2e').split(',');
module.exports = {
  spec: process.argv.some((a) => a.endsWith('.test.ts')) ? [] : tiers.map((t) => `test/${t}/**/*.test.ts`),
  require: ['test/support/global-hooks.ts'],
  reporter: 'test/support/summary-reporter.cjs',
  timeout: 20000,
  exit: true,
};
