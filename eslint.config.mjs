// ESLint flat config. Workflow code runs in Temporal's deterministic sandbox:
// it may not use Node built-ins or I/O libraries, and may import only *types*
// from activities (https://docs.temporal.io/develop/typescript/core-application).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'coverage/', 'tmp/', 'jest.config.js', 'bin/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code runs in the Temporal sandbox: no Node built-ins.' })),
            ...['pg', 'express', '@electric-sql/pglite', 'pino', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'].map(
              (name) => ({ name, message: 'Workflow code must not do I/O; call an activity instead.' }),
            ),
          ],
          patterns: [
            {
              group: ['**/activities', '**/activities/*', '**/activities/**'],
              allowTypeImports: true,
              message: 'Workflows import only types from activities (import type ...).',
            },
            { group: ['**/app/**', '**/server/**', '**/temporal/**', '**/fhir/store*', '**/fhir/store/**'], message: 'Workflow code must not import I/O modules.' },
          ],
        },
      ],
    },
  },
  {
    // The dashboard's browser script (served as is, no build): browser globals and the vis-timeline standalone build.
    files: ['web/assets/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser, vis: 'readonly' } },
  },
);
