// `npm run bench`: runs every benchmark in turn, each in its own process so peak RSS is per benchmark.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
const scratch = mkdtempSync(join(tmpdir(), 'easy-explain-bench-'));
let failed = 0;
for (const bench of benches) {
  if (only.length && !only.some((name) => bench.includes(name))) continue;
  if (!existsSync(root + bench)) continue;
  const env = { ...process.env };
  if (bench === 'bench/native.mjs' && !env.CAPTUM_RESULTS) {
    const captum = captumSideBySide();
    if (captum) env.CAPTUM_RESULTS = captum;
  }
  console.log(`\n=== ${bench}`);
  const run = spawnSync(process.execPath, [bench], { cwd: root, stdio: 'inherit', env });
  if (run.status !== 0) failed++;
}
rmSync(scratch, { recursive: true, force: true });
process.exit(failed ? 1 : 0);

/**
 * Times Captum on the native bench's job first, where Python has Captum, PyTorch, torchvision and onnx, so that
 * bench/native.mjs sets our times against Captum's in the same hour. Returns the results file, or undefined.
 */
function captumSideBySide() {
  const python = process.env.PYTHON ?? 'python3';
  const probe = spawnSync(python, ['-c', 'import captum, torch, torchvision, onnx'], { stdio: 'ignore' });
  if (probe.status !== 0) {
    console.log(`\n=== bench/captum_occlusion.py: skipped (${python} cannot import captum, torch, torchvision and onnx); native.mjs scales the issue's Captum figures instead`);
    return undefined;
  }
  const file = join(scratch, 'captum.json');
  console.log('\n=== bench/captum_occlusion.py');
  const run = spawnSync(python, ['bench/captum_occlusion.py', '--json', file], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) failed++;
  return run.status === 0 ? file : undefined;
}
