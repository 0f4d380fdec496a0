#!/usr/bin/env node
// The `easy-explain` command. This committed file exists before dist/ is built, so `npm ci` links the bin even on
// a fresh clone (npm skips a bin whose target is missing at install time).
try {
  await import('../dist/cli.js');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli.js')) {
    process.stderr.write('easy-explain: the package is not built yet; run `npm run build` first.\n');
    process.exit(1);
  }
  throw error;
}
