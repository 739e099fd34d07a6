import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const namedExportsOnly = { selector: 'ExportDefaultDeclaration', message: 'named exports only' }
// Layering: src/ is the library. Nothing under it imports the entry points (tracker/, peers/), scripts/ or test/,
// statically or with import(). A path leaves src/ after as many '../' as the file is deep in it, so one entry per
// depth (src/tracker/ and src/tracker/... are different folders).
const LAYERING = 'src/ is the library: it must not import tracker/, peers/, scripts/ or test/ (they import src/)'
const srcLayering = [1, 2, 3, 4].map(depth => {
  const outside = `^(\\.\\./){${depth}}(tracker|peers|scripts|test)(/|$)`
  return {
    files: [`src/${'*/'.repeat(depth - 1)}*.ts`],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: outside, message: LAYERING }] }],
      'no-restricted-syntax': ['error', namedExportsOnly, { selector: `ImportExpression[source.value=/${outside.replaceAll('/', '\\/')}/]`, message: LAYERING }]
    }
  }
})

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
      'no-restricted-syntax': ['error', namedExportsOnly]
    }
  },
  ...srcLayering,
  // eslint's own config and the declarations of third-party modules follow those tools' default-export shape.
  { files: ['eslint.config.js', 'types/**'], rules: { 'no-restricted-syntax': 'off' } },
  // The dashboard's script runs in the browser.
  { files: ['src/dashboard/*.js'], languageOptions: { globals: { document: 'readonly', sessionStorage: 'readonly', uPlot: 'readonly' } } },
  // console belongs to the CLI's output layer, tests and scripts.
  { files: ['src/cli/**', 'test/**', 'scripts/**', 'bin/**'], rules: { 'no-console': 'off' } }
)
