// `npm run check:cycles`: import cycles among the source files of every package (dpdm). A cycle makes the load order
// of ES modules matter (a class read before its module has run is a TDZ error) and ties files that should not know
// each other. By default type-only imports count too; `--runtime-only` ignores them (what `npm test` runs until the
// type-only cycles are gone: core model.ts ↔ attributors/feature-ablation.ts, backend-node model.ts → pool → protocol).
// dpdm resolves the '.js' specifiers to the .ts sources through the root tsconfig.json's project references.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const runtimeOnly = process.argv.includes('--runtime-only');
const args = ['--no-warning', '--no-tree', '--exit-code', 'circular:1', ...(runtimeOnly ? ['--transform'] : []), 'packages/*/src/**/*.ts'];
const result = spawnSync(join(root, 'node_modules/.bin/dpdm'), args, { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error(`\nimport cycles found${runtimeOnly ? '' : ' (type-only imports included; --runtime-only skips them)'}.`);
  process.exit(1);
}
