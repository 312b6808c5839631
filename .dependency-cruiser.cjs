/**
 * The import rules `npm test` checks (`depcruise src`): no import cycle anywhere in src, and data
 * flows one way, the backends below the model: nothing under src/backend imports from src/model.
 */
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
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count too: a cycle of types is still two modules that know each other.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6'],
  },
};
