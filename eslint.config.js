// One linter for every workspace. The boundary rule keeps domain packages meeting only
// through each other's public exports (STYLE.md, from tRPC); cycles are checked by madge
// (`npm run lint:cycles`).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'data/**', 'coverage/**', 'test/artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', performance: 'readonly', AbortController: 'readonly', fetch: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly' } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@vigil/*/src', '@vigil/*/src/*', '@vigil/*/dist/*'], message: "Import another workspace by its package name, never its src/ or dist/." },
            { group: ['../../core/*', '../../ingest/*', '../../detect/*', '../../respond/*', '../../guard/*', '../../demo/*', '../../server/*', '../core/*', '../ingest/*', '../detect/*', '../respond/*', '../guard/*', '../demo/*', '../server/*', '../../core', '../../ingest', '../../detect', '../../respond', '../../guard', '../../demo', '../../server'], message: "Import another workspace by its package name (@vigil/...), never by a relative path." },
          ],
        },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
)
