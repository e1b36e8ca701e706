import js from '@eslint/js';
import globals from 'globals';
import * as stripTypes from './hack/eslint-strip-types-parser.js';

// Translation and validation are pure: values in, values out. I/O belongs in controllers, writers and the proxy.
const ioModules = ['fs', 'fs/promises', 'net', 'http', 'https', 'http2', 'tls', 'dgram', 'child_process', 'undici'];
const pureRule = {
  'no-restricted-imports': ['error', {
    paths: [
      ...ioModules.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: 'src/translate and src/validate are pure: no I/O imports.' })),
      { name: '@kubernetes/client-node', message: 'src/translate and src/validate are pure: take values, not a client.' },
    ],
  }],
};

export default [
  { ignores: ['node_modules/', 'dist/', 'src/api/'] },
  js.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js', '**/*.cjs'],
    languageOptions: { parser: stripTypes, globals: { ...globals.node, ...globals.mocha } },
    rules: {
      // Type-only names (interfaces, type parameters) are erased before ESLint sees them.
      'no-unused-vars': ['error', { args: 'none', caughtErrors: 'none', ignoreRestSiblings: true }],
      'no-redeclare': 'off',
      'prefer-const': 'error',
      eqeqeq: ['error', 'smart'],
    },
  },
  { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs' } },
  { files: ['src/translate/**', 'src/validate/**'], rules: pureRule },
];
