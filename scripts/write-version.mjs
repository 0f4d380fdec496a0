// Writes src/version.ts of the package in the current directory from its package.json, so `VERSION` follows the
// package's version without a JSON import (which tsc's rootDir, vite and Node would each treat differently).
// Runs before tsc in every package's build (and so in prepack); rewrites the file only when the version changed.
import { readFileSync, writeFileSync } from 'node:fs';

const { name, version } = JSON.parse(readFileSync('package.json', 'utf8'));
const text =
  `// Generated from package.json by scripts/write-version.mjs on every build; do not edit.\n` +
  `/** The version of ${name}. */\n` +
  `export const VERSION = '${version}';\n`;
let old = '';
try {
  old = readFileSync('src/version.ts', 'utf8');
} catch {}
if (old !== text) writeFileSync('src/version.ts', text);
