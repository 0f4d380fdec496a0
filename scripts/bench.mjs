// `npm run bench`: runs every package's benchmark in turn, each in its own process so peak RSS is per benchmark.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const benches = [
  'scripts/bench-occlusion.mjs',
  'packages/core/bench/incremental.mjs',
  'packages/core/bench/gradients.mjs',
  'packages/backend-node/bench/cli.mjs',
  'apps/demo/bench/browser.mjs',
];
const only = process.argv.slice(2);
let failed = 0;
for (const bench of benches) {
  if (only.length && !only.some((name) => bench.includes(name))) continue;
  if (!existsSync(root + bench)) continue;
  console.log(`\n=== ${bench}`);
  const run = spawnSync(process.execPath, [bench], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
