// One run covers every tier; each tier's own suites start what they need (the API server for integration).
module.exports = {
  spec: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
  require: ['test/support/global-hooks.ts'],
  reporter: 'test/support/summary-reporter.cjs',
  timeout: 20000,
  exit: true,
};
