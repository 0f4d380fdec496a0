// Incremental occlusion benchmark on the wasm backend (one thread): forward time F, exact occlusion with full
// recomputation vs incremental inference, FLOPs saved, and the approximate mode's time and SSIM vs the exact map.
// Run `npm run build` first. Usage: node bench/incremental.mjs [--model=mobilenet|darknet] [--photo=chelsea.png] [--skip-full]
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
// Loading and backend setup are backend-node's, as a user's script would do it.
import { loadModel, setupBackend } from '@easy-explain/backend-node';
import { incrementalScorer, Occlusion, occlusionFlops, preprocess, defaultPerturbationsPerEval } from '@easy-explain/core/internal';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const shared = join(root, '../shared');
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')).map(([k, v]) => [k, v ?? true]));
const MODELS = {
  mobilenet: { path: 'models/mobilenet_v1_0.75_224/model.json', preset: 'mobilenet' },
  darknet: { path: 'models/darknet_tiny/model.json', preset: { resize: 224, crop: 224, scale: [1 / 255, 0] } },
};
const which = args.model ?? 'mobilenet';
const photoName = args.photo ?? 'chelsea.png';

/** Mean SSIM over 7×7 uniform windows (skimage's defaults), data range from the reference map. */
function ssim(a, b, h, w) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of a) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const L = hi - lo || 1;
  const c1 = (0.01 * L) ** 2;
  const c2 = (0.03 * L) ** 2;
  const r = 3;
  const n = 49;
  let sum = 0;
  let count = 0;
  for (let y = r; y < h - r; y++) {
    for (let x = r; x < w - r; x++) {
      let ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const i = (y + dy) * w + x + dx;
          ma += a[i]; mb += b[i]; saa += a[i] * a[i]; sbb += b[i] * b[i]; sab += a[i] * b[i];
        }
      }
      ma /= n; mb /= n;
      const cov = (n / (n - 1)) * (sab / n - ma * mb);
      const va = (n / (n - 1)) * (saa / n - ma * ma);
      const vb = (n / (n - 1)) * (sbb / n - mb * mb);
      sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      count++;
    }
  }
  return sum / count;
}

function channel0(map, h, w, c) {
  const out = new Float64Array(h * w);
  for (let i = 0; i < h * w; i++) out[i] = map[i * c];
  return out;
}

const time = async (fn) => {
  const t0 = performance.now();
  const result = await fn();
  return { result, seconds: (performance.now() - t0) / 1000 };
};

await setupBackend('wasm');

const model = await loadModel(join(shared, MODELS[which].path));
const layers = model.tfModel;
const { data, info } = await sharp(join(shared, 'images', photoName)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
const photo = tf.tensor3d(new Uint8Array(data), [info.height, info.width, 3], 'int32');
const input = preprocess(photo, MODELS[which].preset);
photo.dispose();
const [, H, W, C] = input.shape;

// Forward time F: median of 10 after warm-up.
for (let i = 0; i < 3; i++) tf.dispose(model.predict(input));
const times = [];
for (let i = 0; i < 10; i++) {
  const t0 = performance.now();
  const out = model.predict(input);
  await out.data();
  out.dispose();
  times.push((performance.now() - t0) / 1000);
}
const F = times.sort((a, b) => a - b)[5];
const scores = model.predict(input);
const target = (await tf.argMax(scores, 1).data())[0];
scores.dispose();

const settings = { target, slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3] };
const perEval = defaultPerturbationsPerEval(input.shape);
const occlusion = new Occlusion(model);
const evals = 442;
const rows = [];
const row = (name, seconds, extra = '') => {
  rows.push(`| ${name} | ${seconds.toFixed(2)} s | ${(seconds / (evals * F)).toFixed(3)} × 442·F | ${extra} |`);
  console.log(rows.at(-1));
};
console.log(`${which} on ${photoName}, wasm 1 thread, target ${target}; F = ${(F * 1000).toFixed(1)} ms, 442·F = ${(evals * F).toFixed(2)} s`);
console.log('| run | time | ratio | notes |\n|---|---|---|---|');

let fullMap;
let fullSeconds;
if (!args['skip-full']) {
  // Occlusion is incremental by default: ask for full forward passes.
  const full = await time(() => occlusion.attribute(input, { ...settings, incremental: false }));
  fullSeconds = full.seconds;
  fullMap = full.result.dataSync();
  full.result.dispose();
  row('exact, full recomputation', full.seconds);
}
const before = tf.memory().numTensors;
const inc = await time(() => occlusion.attribute(input, { ...settings, scorer: incrementalScorer(layers, { onWarning: console.warn }) }));
const incMap = inc.result.dataSync();
inc.result.dispose();
let note = `perturbationsPerEval ${perEval}`;
if (fullMap) {
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < fullMap.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(fullMap[i] - incMap[i]));
    maxAbs = Math.max(maxAbs, Math.abs(fullMap[i]));
  }
  note += `; max |Δ| / max |full| = ${(maxDiff / maxAbs).toExponential(2)}`;
}
if (fullSeconds) note += `; speed-up ${(fullSeconds / inc.seconds).toFixed(2)}× (${(inc.seconds / fullSeconds).toFixed(3)} × full)`;
row('exact, incremental', inc.seconds, note);
for (const tau of (args.taus ? String(args.taus).split(',').map(Number) : [0.4, 0.6, 0.8])) {
  const approx = await time(() => occlusion.attribute(input, { ...settings, scorer: incrementalScorer(layers, { approximate: { tau } }) }));
  const map = approx.result.dataSync();
  approx.result.dispose();
  let maxDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < map.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(map[i] - incMap[i]));
    maxAbs = Math.max(maxAbs, Math.abs(incMap[i]));
  }
  row(`approximate tau ${tau}`, approx.seconds, `SSIM vs exact ${ssim(channel0(incMap, H, W, C), channel0(map, H, W, C), H, W).toFixed(4)}; max |Δ| / max |exact| ${(maxDiff / maxAbs).toFixed(3)}`);
}
if (tf.memory().numTensors !== before) console.warn(`tensors leaked: ${tf.memory().numTensors - before}`);

// Kernels per scoreRegions call: one call with the first batch of windows.
{
  const context = {
    model, input, inputData: input.dataSync(), baseline: new Float32Array(input.size), shape: input.shape, targets: [target], perturbationsPerEval: perEval,
  };
  const regions = [];
  for (let x = 0; x < perEval; x++) {
    const iy = Math.floor(x / 21);
    const ix = x % 21;
    regions.push({ start: [iy * 9, ix * 9, 0], end: [iy * 9 + 45, ix * 9 + 45, 3] });
  }
  const scorer = await incrementalScorer(layers)(context);
  const profile = await tf.profile(() => scorer.scoreRegions(regions));
  await scorer.dispose();
  console.log(`kernels in one scoreRegions call of ${perEval} windows: ${profile.kernels.length}`);
  // Where the time goes, per kernel (ops that only wrap another kernel, named *__op, are left out).
  const perKernel = new Map();
  for (const kernel of profile.kernels) {
    if (kernel.name.endsWith('__op')) continue;
    const entry = perKernel.get(kernel.name) ?? { count: 0, ms: 0 };
    entry.count++;
    entry.ms += await kernel.kernelTimeMs;
    perKernel.set(kernel.name, entry);
  }
  const top = [...perKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 6);
  console.log(`kernel time: ${top.map(([name, { count, ms }]) => `${name} ${ms.toFixed(1)} ms (${count})`).join(', ')}`);
}

const flopSettings = { inputShape: [H, W, C], slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3] };
for (const [label, extra] of [['per window', {}], [`batches of ${perEval}`, { perturbationsPerEval: perEval }], ['tau 0.4', { perturbationsPerEval: perEval, approximate: { tau: 0.4 } }], ['tau 0.6', { perturbationsPerEval: perEval, approximate: { tau: 0.6 } }]]) {
  const f = occlusionFlops(layers, { ...flopSettings, ...extra });
  if ('reason' in f) console.log(`FLOPs: ${f.reason}`);
  else console.log(`FLOPs (${label}): forward ${(f.forward / 1e6).toFixed(0)} M; full ${(f.full / 1e9).toFixed(1)} G; incremental ${(f.incremental / 1e9).toFixed(1)} G; saved ${(f.saved * 100).toFixed(1)} %`);
}
input.dispose();
model.dispose();
