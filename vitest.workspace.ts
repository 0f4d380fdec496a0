// The vitest projects of the monorepo: one per package, each with its own vitest.config.ts.
export default ['packages/*', 'apps/*'];
