import { readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import prettier from 'eslint-config-prettier';

// Layer fences. Each message names the fence, so a failing import says which rule of the architecture it breaks.

/** Packages that run in Temporal's workflow sandbox: everything workflow code (and the domain it bundles) may import. */
const WORKFLOW_SAFE_PACKAGES = ['@temporalio/workflow', '@temporalio/common', 'zod', '@noble/hashes'];
/** Temporal's Node-side packages: they open connections, run workers or activities. */
const TEMPORAL_NODE_PACKAGES = [
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
  '@temporalio/envconfig',
];
const PROVIDER_SDKS = ['stripe', '@circle-fin/circle-sdk'];
/** Every Node built-in in both spellings, from the running Node rather than a hand-kept list (as Temporal's samples). */
const NODE_BUILTINS = [
  ...new Set(builtinModules.flatMap((name) => (name.startsWith('node:') ? [name] : [name, `node:${name}`]))),
];
/** The globals of the Node running ESLint, for plain-JS scripts (the `globals` package is not a dependency here). */
const NODE_GLOBALS = Object.fromEntries(Object.getOwnPropertyNames(globalThis).map((name) => [name, 'readonly']));
/**
 * The parts of `src` that run on Node: every entry of `src/` but the domain, the workflows and the activities (whose
 * types workflow code may import), read from the tree so a module added later is fenced off too.
 */
const NODE_SIDE_MODULES = readdirSync(join(import.meta.dirname, 'src'))
  .map((entry) => entry.replace(/\.ts$/, ''))
  .filter((name) => !['domain', 'workflows', 'activities'].includes(name));

const escapeRegex = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** A module or any of its subpaths: `stripe`, `stripe/lib/x`. */
const moduleOrSubpath = (names) => `(?:${names.map(escapeRegex).join('|')})(?:/|$)`;
/** A relative import that climbs out of the current folder into one of `dirs` (with or without an extension). */
const relativeInto = (dirs) => `^(?:\\./)?(?:\\.\\./)+(?:${dirs.map(escapeRegex).join('|')})(?:\\.[cm]?[jt]s)?(?:/|$)`;

/** The import fence for code that Temporal bundles into the workflow sandbox; `why` opens every message. */
function workflowFence(why, { allowActivityTypes }) {
  const fence = `Workflow fence (${why})`;
  return {
    'no-restricted-syntax': [
      'error',
      {
        selector: 'ImportExpression, CallExpression[callee.name="require"]',
        message: `${fence}: import statically, so the fence and the workflow bundler see every module.`,
      },
    ],
    '@typescript-eslint/no-restricted-imports': [
      'error',
      {
        // Exact names: a pattern `domain` or `events` would also match `../domain` or `./events`.
        paths: NODE_BUILTINS.map((name) => ({
          name,
          message: `${fence}: no Node built-ins. Do I/O, clocks and randomness in an activity.`,
        })),
        patterns: [
          {
            regex: `^${moduleOrSubpath(TEMPORAL_NODE_PACKAGES)}`,
            message: `${fence}: Temporal's client, worker, activity, testing and envconfig packages run on Node; use @temporalio/workflow.`,
          },
          {
            regex: `^${moduleOrSubpath(PROVIDER_SDKS)}`,
            message: `${fence}: provider SDKs are called from activities, never from the saga.`,
          },
          {
            regex: relativeInto(['activities']),
            // `proxyActivities<RefundActivities>()` needs the activities' types; `import type` is erased, nothing runs.
            allowTypeImports: allowActivityTypes,
            message: allowActivityTypes
              ? `${fence}: activities run on the worker; import only their types (\`import type\`).`
              : `${fence}: activities run on the worker; the domain does not depend on them.`,
          },
          {
            regex: relativeInto(NODE_SIDE_MODULES),
            message: `${fence}: it imports only src/domain and its own folder.`,
          },
          {
            // Any other package (Node-only built-ins such as `node:test` included) unless it is on the workflow-safe
            // list; the ones above are left out so that each import gets one message.
            regex: `^(?!\\.|${moduleOrSubpath([...WORKFLOW_SAFE_PACKAGES, ...TEMPORAL_NODE_PACKAGES, ...PROVIDER_SDKS, ...NODE_BUILTINS])})`,
            message: `${fence}: packages allowed here are ${WORKFLOW_SAFE_PACKAGES.join(', ')}; add one to WORKFLOW_SAFE_PACKAGES in eslint.config.mjs only if it bundles without Node built-ins.`,
          },
        ],
      },
    ],
  };
}

/** A relative import of a top-level entry of src, from src itself or from any folder below it. */
const relativeToTop = (dirs) => `^(?:\\.\\.?/)+(?:${dirs.map(escapeRegex).join('|')})(?:\\.[cm]?[jt]s)?(?:/|$)`;

/** The provider sandboxes (their files, the `src/sandboxes.ts` entry, the package's `/sandboxes` export) and the stack. */
const SANDBOXES_OR_STACK = {
  sandboxes: '(?:^|/)providers/(?:[^/]+/sandbox|sandbox-server)(?:\\.[cm]?[jt]s)?$',
  sandboxesEntry: relativeToTop(['sandboxes']),
  packageSandboxes: '^refund-saga/sandboxes(?:\\.js)?$',
  stack: relativeToTop(['stack']),
};
const PRODUCTION_FENCE =
  'Dev-stack fence (worker, activities, API, CLI, client and config run in production): the provider sandboxes and src/stack are ' +
  'for tests, the demo and `refund-saga stack` (src/bin.ts) only.';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.temporal/**', 'coverage/**', 'bin/**', 'test/package/consumer/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // The console's one browser script, plain JavaScript: linted without type information, with the browser's globals.
    files: ['src/console/assets/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      sourceType: 'script',
      parserOptions: { projectService: false },
      globals: { document: 'readonly', setTimeout: 'readonly' },
    },
  },
  {
    // Workflow code is replayed: it imports only the workflow SDK, the pure domain and its own folder.
    files: ['src/workflows/**/*.ts'],
    rules: workflowFence('src/workflows is replayed and must be deterministic', { allowActivityTypes: true }),
  },
  {
    // The domain is bundled into workflow code too, so the same fence holds there.
    files: ['src/domain/**/*.ts'],
    rules: workflowFence('src/domain is bundled into workflow code', { allowActivityTypes: false }),
  },
  {
    // Everything that runs in production: all of src but the stack, the sandboxes and the binary that starts them
    // (workflow and domain code have their own, stricter fence).
    files: ['src/**/*.ts'],
    ignores: [
      'src/bin.ts',
      'src/stack/**',
      'src/sandboxes.ts',
      'src/providers/*/sandbox.ts',
      'src/providers/sandbox-server.ts',
      'src/workflows/**',
      'src/domain/**',
    ],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: Object.values(SANDBOXES_OR_STACK).map((regex) => ({ regex, message: PRODUCTION_FENCE })),
        },
      ],
      'no-restricted-syntax': [
        'error',
        // `import()` and `require()` too: src/bin.ts loads the stack lazily, and nothing else may copy it.
        ...Object.values(SANDBOXES_OR_STACK).flatMap((regex) => {
          const literal = `/${regex.replaceAll('\\/', '/').replaceAll('/', '\\x2F')}/`;
          return [
            `ImportExpression[source.value=${literal}]`,
            `CallExpression[callee.name="require"][arguments.0.value=${literal}]`,
          ].map((selector) => ({ selector, message: PRODUCTION_FENCE }));
        }),
      ],
    },
  },
  {
    // Asymmetric matchers (`expect.any`, `expect.stringContaining`) are typed `any` by design.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  {
    files: ['**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // Config and build scripts (`scripts/build.mjs`) run on Node: its globals (`process`, `console`, …) exist there.
    files: ['**/*.mjs'],
    languageOptions: { globals: NODE_GLOBALS },
  },
  {
    // The bench worker (scripts/bench/worker.cjs) runs with plain node over dist/: CommonJS, no type information.
    files: ['**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { ...NODE_GLOBALS, require: 'readonly', module: 'writable', exports: 'writable', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
