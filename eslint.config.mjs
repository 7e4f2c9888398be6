// ESLint for the whole repository: the recommended checks of ESLint and typescript-eslint, import order, the house rules
// of issue 17 (module boundaries, SQL only in stores) and eslint-config-prettier last, so that layout is prettier's alone.
// `npm run lint` checks (with prettier --check), `npm run format` fixes what can be fixed.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import house from './scripts/eslint-house.mjs';

/** Where SQL may be written: the stores, the eligibility rules (rendered to SQL and to code), src/db and the seeding. */
export const SQL_HOMES = ['src/modules/**/*.store.ts', 'src/modules/eligibility/eligibility.rules.ts', 'src/db/**', 'src/modules/seed/**'];

export default defineConfig(
  { ignores: ['dist/**', 'coverage/**', 'test-output/**', '.data/**', 'vendor/**'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    plugins: { 'import-x': importX, house },
    rules: {
      // Rows from manager.query() are `any` (typeorm's type); typing them is the stores' work, not a lint error.
      '@typescript-eslint/no-explicit-any': 'off',
      // Optional instrumentation is required lazily (src/common/tracing.ts): nothing is loaded while tracing is off.
      '@typescript-eslint/no-require-imports': 'off',
      // `_`-named parameters keep an arity (Express error handlers); a rest sibling drops keys from a copy.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      'no-empty': ['error', { allowEmptyCatch: true }],
      'import-x/order': [
        'error',
        {
          groups: ['builtin', 'external', 'internal', 'parent', 'sibling', 'index'],
          // Tracing must instrument http, express, graphql and pg before they are loaded (src/main.ts imports it first).
          pathGroups: [{ pattern: './instrumentation', group: 'builtin', position: 'before' }],
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly' },
    },
  },
  { files: ['src/**/*.ts'], rules: { 'house/module-boundaries': 'error' } },
  { files: ['src/**/*.ts'], ignores: SQL_HOMES, rules: { 'house/sql-outside-stores': 'error' } },
  prettier,
);
