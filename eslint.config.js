import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/', 'runs/', 'checkpoints/', 'stubs/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', performance: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', fetch: 'readonly', AbortSignal: 'readonly', AbortController: 'readonly', Buffer: 'readonly' } },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'named exports only' }]
    }
  },
  // eslint's own config and the declarations of third-party modules follow those tools' default-export shape.
  { files: ['eslint.config.js', 'types/**'], rules: { 'no-restricted-syntax': 'off' } },
  // console belongs to the CLI's output layer, tests and scripts.
  { files: ['src/cli/**', 'test/**', 'scripts/**', 'bin/**'], rules: { 'no-console': 'off' } }
)
