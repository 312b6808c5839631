/**
 * The import rules `npm test` checks (`depcruise src`): no import cycle anywhere in src, and the
 * layering docs/CONTRACTS.md draws, data flowing one way:
 *
 *   ui ──► worker (protocol types; client.ts starts the worker) ──► sources, generation ──► model ──► backend
 *   ui ──► pure modules of sources, generation, model, tokenizer (no tfjs: the page bundle has none)
 *   cli ──► sources, generation, model, backend, tokenizer
 */
const LOWER = '^src/(backend|model|generation|sources|tokenizer|util)/';

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'An import cycle: these modules import each other, directly or through others.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'backend-below-model',
      severity: 'error',
      comment: 'src/backend is below src/model: the model uses backends, never the other way round. Move the shared piece down.',
      from: { path: '^src/backend/' },
      to: { path: '^src/model/' },
    },
    {
      name: 'model-below-generation-and-sources',
      severity: 'error',
      comment: 'src/model is below src/generation and src/sources: they use the model, never the other way round.',
      from: { path: '^src/model/' },
      to: { path: '^src/(generation|sources)/' },
    },
    {
      name: 'engine-below-page-worker-cli',
      severity: 'error',
      comment: 'The engine (backend, model, generation, sources, tokenizer, util) knows nothing of the page, the worker or the CLI.',
      from: { path: LOWER },
      to: { path: '^src/(ui|worker|cli)/' },
    },
    {
      name: 'worker-below-page',
      severity: 'error',
      comment: 'The worker knows nothing of the page: they share only the messages in src/worker/protocol.ts.',
      from: { path: '^src/worker/' },
      to: { path: '^src/(ui|cli)/' },
    },
    {
      name: 'page-reaches-worker-by-protocol-and-client',
      severity: 'error',
      comment: 'The page talks to the worker through src/worker/protocol.ts (types) and src/worker/client.ts (starting it), nothing else.',
      from: { path: '^src/(ui/|main\\.tsx$)' },
      to: { path: '^src/worker/', pathNot: '^src/worker/(protocol|client)\\.ts$' },
    },
    {
      name: 'page-imports-protocol-types-only',
      severity: 'error',
      comment: 'The page imports only types from the worker protocol (import type): its values live in the worker.',
      from: { path: '^src/(ui/|main\\.tsx$)' },
      to: { path: '^src/worker/protocol\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'page-without-tfjs',
      severity: 'error',
      comment:
        'The page bundle has no tfjs (it runs in the worker): the page imports no tfjs itself (tests/e2e/bundle.test.ts checks the bundle as a whole).',
      from: { path: '^src/(ui/|main\\.tsx$)' },
      to: { path: '@tensorflow/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count too: a cycle of types is still two modules that know each other.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6'],
  },
};
