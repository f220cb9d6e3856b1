// Lint is part of `npm test`: the rule that matters most here is no-floating-promises,
// because an unawaited inspector call is exactly how a detach gets skipped.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/fixtures/**', 'bin/**', 'bench/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // probes run in the target, where `require` is the command-line API's, not an import
    files: ['src/probes/**/*.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // plain CommonJS scripts run by Node directly, before any build (the matrix's installer)
    files: ['test/matrix/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'before', 'after'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // ignoreRestSiblings: `const { command, ...options } = inv` is how a key is left out
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
);
