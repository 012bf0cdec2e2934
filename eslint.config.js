import eslint from '@eslint/js'
import {createTypeScriptImportResolver} from 'eslint-import-resolver-typescript'
import {importX} from 'eslint-plugin-import-x'
import tseslint from 'typescript-eslint'

/** What only the terminal layer (src/cli and the commands) may use. */
const TERMINAL_PACKAGES = ['@oclif/core', 'chalk', 'cli-table3', 'inquirer', 'ora']

export default tseslint.config(
  {ignores: ['dist/', 'node_modules/', 'coverage/', 'raiops-demo/']},
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_'}],
      'no-console': 'error',
    },
  },
  {
    files: ['scripts/**', 'bench/**', 'test/**'],
    rules: {'no-console': 'off'},
  },
  {
    // One order for imports everywhere: Node's and packages', then the project's; each module imported once.
    files: ['**/*.ts', '**/*.mjs', '**/*.js'],
    plugins: {'import-x': importX},
    rules: {
      'import-x/no-duplicates': 'error',
      'import-x/order': [
        'error',
        {
          groups: [
            ['builtin', 'external'],
            ['parent', 'sibling', 'index'],
          ],
          'newlines-between': 'always',
          alphabetize: {order: 'asc', caseInsensitive: true},
        },
      ],
    },
  },
  {
    // No import cycles anywhere in the product: a module's dependencies are always below it.
    files: ['src/**/*.ts', 'migrations/**/*.ts'],
    plugins: {'import-x': importX},
    settings: {
      'import-x/parsers': {'@typescript-eslint/parser': ['.ts']},
      'import-x/resolver-next': [createTypeScriptImportResolver({project: './tsconfig.json'})],
    },
    rules: {'import-x/no-cycle': ['error', {ignoreExternal: true}]},
  },
  {
    // The services know nothing of terminals: src/cli and the commands call them, never the reverse.
    files: ['src/lib/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: TERMINAL_PACKAGES.map((name) => ({
            name,
            message: 'src/lib never talks to a terminal: flags, prompts, colours, tables and spinners belong in src/cli',
          })),
          patterns: [
            {
              group: ['**/cli/**', '**/cli', '**/commands/**'],
              message: 'src/lib never imports src/cli or src/commands: the terminal layer calls the services, not the reverse',
            },
            {group: TERMINAL_PACKAGES.map((name) => `${name}/*`), message: 'src/lib never talks to a terminal'},
          ],
        },
      ],
      // The same for import(): a dynamic import is still an import.
      'no-restricted-syntax': [
        'error',
        {
          selector: `ImportExpression[source.value=/^(${TERMINAL_PACKAGES.map((name) => name.replace(/[/.@-]/g, (c) => `\\${c}`)).join('|')})(\\/|$)|\\/(cli|commands)\\//]`,
          message: 'src/lib never imports src/cli, src/commands or a terminal package, not even with import()',
        },
      ],
    },
  },
)
