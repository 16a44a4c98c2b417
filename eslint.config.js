import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['cdk.out/**', 'node_modules/**', 'enclave/dist/**', 'dist/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ['**/*.js'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Classic zod does not tree-shake (~60 KB of every cold start): functions build schemas with the mini
    // API through lambdas/shared/runtime/zod.ts, which also installs zod's English messages.
    files: ['lambdas/**/*.ts'],
    ignores: ['lambdas/shared/runtime/zod.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'zod', message: "import * as z from '<…>/shared/runtime/zod' (zod's mini API) instead" }],
        patterns: [{ group: ['zod/mini', 'zod/v4', 'zod/v4/mini', 'zod/v4-mini', 'zod/v4/classic'], message: "import * as z from '<…>/shared/runtime/zod' instead" }],
      }],
    },
  },
);
