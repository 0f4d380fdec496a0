// The version users see (CLI --version, explanation.json), read from this package's own package.json.
import { createRequire } from 'node:module';

export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
