// `npm run bench`: runs every benchmark in turn, each in its own process so peak RSS is per benchmark.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// Paths from the repository root; the browser bench belongs to the demo (its harness and Chromium driver live there).
const benches = [
  'bench/onnx.mjs',
  'bench/native.mjs',
  'bench/occlusion.mjs',
  'bench/incremental.mjs',
  'bench/gradients.mjs',
  'bench/cli.mjs',
  'bench/metrics.mjs',
  'bench/batch.mjs',
  'apps/demo/bench/browser.mjs',
  'apps/demo/bench/ort-web.mjs',
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
