// One lint setup for the whole tree. Module boundaries: pure libs import only pure libs;
// apps import libs, never the reverse.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import nx from '@nx/eslint-plugin';

const typedRules = {
  '@typescript-eslint/no-floating-promises': 'error',
  '@typescript-eslint/no-misused-promises': 'error',
  '@typescript-eslint/switch-exhaustiveness-check': [
    'error',
    { considerDefaultExhaustiveForUnions: true },
  ],
};

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'libs/api/src/gen/**',
      '.nx/**',
      'infra/testbed/bin/**',
      'bench/**/dist/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            { sourceTag: 'scope:pure', onlyDependOnLibsWithTags: ['scope:pure'] },
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:pure', 'scope:shared'] },
            {
              sourceTag: 'scope:infra',
              onlyDependOnLibsWithTags: ['scope:pure', 'scope:shared', 'scope:infra'],
            },
            { sourceTag: 'scope:app', onlyDependOnLibsWithTags: ['scope:pure', 'scope:shared'] },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-control-regex': 'off',
    },
  },
  {
    // Type-aware rules over one program of every TypeScript file, specs included (the same
    // tsconfig the lint stage type-checks): async-heavy code needs its promises awaited or
    // explicitly voided, and a switch over a union must name every member or have a default.
    files: ['**/*.ts'],
    ignores: ['apps/console/**'],
    languageOptions: {
      parserOptions: { project: ['./tsconfig.spec.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: typedRules,
  },
  {
    // The web console runs in the browser: its own program (DOM types, JSX), the same typed rules.
    files: ['apps/console/src/**/*.ts', 'apps/console/src/**/*.tsx'],
    languageOptions: {
      parserOptions: {
        project: ['./apps/console/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: typedRules,
  },
  {
    files: ['apps/console/vite.config.mjs'],
    languageOptions: { globals: { URL: 'readonly' } },
  },
  {
    files: ['**/*.spec.ts', 'tests/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        Buffer: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
