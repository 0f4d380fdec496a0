// The CLI's own overhead: a whole `easy-explain` run on chelsea.png (process start to exit, easy-explain's default
// Occlusion setting, wasm) next to the bare Occlusion time of the same attribution in-process. The gated overhead is
// the whole run minus the attribution time that same run recorded in explanation.json, so machine load that differs
// between the two measurements does not leak into it.
// Usage: node bench/cli.mjs [--runs N]   (build first: npm run build)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { Occlusion } from '@easy-explain/core';
import { loadModel, prepareInput, setupBackend, loadImage } from '@easy-explain/backend-node';

const BAR_MS = 3000;
const here = fileURLToPath(new URL('.', import.meta.url));
const cli = fileURLToPath(new URL('./cli.js', import.meta.resolve('@easy-explain/backend-node')));
const shared = join(here, '..', '..', 'shared');
const photo = join(shared, 'images', 'chelsea.png');
const modelJson = join(shared, 'models', 'mobilenet_v1_0.75_224', 'model.json');
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 1;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Bare Occlusion: model loaded, input prepared and one warm-up forward done before the clock starts.
await setupBackend('wasm');
const model = await loadModel(modelJson);
const decoded = await loadImage(photo);
const { input } = await prepareInput(decoded, 'mobilenet', model.inputShape);
tf.tidy(() => model.predict(input)).dispose();
const bare = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const attribution = await new Occlusion(model).attribute(input, { target: 285, slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3], baselines: 0 });
  await attribution.data();
  bare.push(performance.now() - t0);
  attribution.dispose();
}
[decoded, input].forEach((t) => t.dispose());
model.dispose();

const whole = [];
const inCli = [];
const out = mkdtempSync(join(tmpdir(), 'ee-bench-'));
try {
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const run = spawnSync(process.execPath, [cli, photo, '--model', modelJson, '--backend', 'wasm', '--out', out, '--quiet'], { encoding: 'utf8' });
    whole.push(performance.now() - t0);
    if (run.status !== 0) throw new Error(`the CLI exited ${run.status}: ${run.stderr}`);
    inCli.push(JSON.parse(readFileSync(join(out, 'explanation.json'), 'utf8')).timings.attributionMs);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

const overheads = whole.map((w, i) => w - inCli[i]);
const overhead = median(overheads);
const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log(`easy-explain CLI on chelsea.png (wasm, window 45, stride 9: 21×21 windows), median of ${runs}:`);
console.log(`  whole CLI run (process start to exit)     ${s(median(whole))}`);
console.log(`  attribution inside that run                ${s(median(inCli))}`);
console.log(`  bare Occlusion in-process                  ${s(median(bare))}`);
console.log(`  CLI overhead (whole − its attribution)     ${s(overhead)}  (bar < ${s(BAR_MS)}: ${overhead < BAR_MS ? 'ok' : 'OVER'})`);
console.log(`  whole − bare Occlusion                     ${s(median(whole) - median(bare))}`);
console.log(JSON.stringify({ bench: 'cli', wholeMs: Math.round(median(whole)), cliAttributionMs: Math.round(median(inCli)), occlusionMs: Math.round(median(bare)), overheadMs: Math.round(overhead), barMs: BAR_MS }));
process.exit(overhead < BAR_MS ? 0 : 1);
