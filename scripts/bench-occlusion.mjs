// Occlusion benchmark (issue 2): MobileNet v1 0.75 on one 224×224 photo with easy-explain's setting, wasm in Node.
// Prints forward ms/image per batch size, Occlusion seconds per perturbationsPerEval (median of 3),
// the overhead ratio against 442 forwards at the best per-image time, and the peak RSS.
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { Occlusion, defaultPerturbationsPerEval, preprocess } from '@easy-explain/core';
import { loadImage, loadModel, setupBackend } from '@easy-explain/backend-node';

const shared = (path) => fileURLToPath(new URL(`../../shared/${path}`, import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(fn) {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const backend = await setupBackend('wasm');
const model = await loadModel(shared('models/mobilenet_v1_0.75_224/model.json'));
const image = await loadImage(shared('images/chelsea.png'));
const input = preprocess(image, 'mobilenet');
image.dispose();
console.log(`# Occlusion on MobileNet v1 0.75, chelsea.png 224×224, backend ${backend}, median of ${RUNS}`);

const forward = {};
for (const batch of [1, 4, 8, 16, 32, 64]) {
  const x = tf.tile(input, [batch, 1, 1, 1]);
  const once = async () => {
    const y = model.predict(x);
    await y.data();
    y.dispose();
  };
  await once();
  const times = [];
  for (let r = 0; r < RUNS; r++) times.push(await time(once));
  x.dispose();
  forward[batch] = median(times) / batch;
  console.log(`forward batch ${String(batch).padStart(2)}: ${forward[batch].toFixed(1)} ms/image`);
}
const best = Math.min(...Object.values(forward));
const bestBatch = Object.keys(forward).find((b) => forward[b] === best);

const options = { target: 285, slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3], baselines: 0 };
const occlusion = {};
const fallbackDefault = defaultPerturbationsPerEval(input.shape);
for (const ppe of [1, 16, 64, 'default']) {
  const times = [];
  for (let r = 0; r < RUNS; r++) {
    times.push(
      await time(async () => {
        const a = await new Occlusion(model).attribute(input, { ...options, ...(ppe === 'default' ? {} : { perturbationsPerEval: ppe }) });
        a.dispose();
      }),
    );
  }
  occlusion[ppe] = median(times) / 1000;
  console.log(`occlusion perturbationsPerEval ${ppe === 'default' ? `default (${fallbackDefault})` : ppe}: ${occlusion[ppe].toFixed(2)} s`);
}
let firstMap = 0;
{
  const start = performance.now();
  const a = await new Occlusion(model).attribute(input, {
    ...options,
    progressive: true,
    onPartial: () => (firstMap ||= (performance.now() - start) / 1000),
  });
  a.dispose();
  console.log(`progressive: first coarse map after ${firstMap.toFixed(2)} s`);
}
const floor = (442 * best) / 1000;
const ratio = occlusion.default / floor;
const rssMiB = process.resourceUsage().maxRSS / 1024;
console.log(`best forward: ${best.toFixed(1)} ms/image at batch ${bestBatch}; 442 × best = ${floor.toFixed(2)} s`);
console.log(`occlusion (default) / (442 × best forward) = ${ratio.toFixed(3)} (bar ≤ 1.25) ${ratio <= 1.25 ? 'PASS' : 'FAIL'}`);
console.log(`peak RSS ${rssMiB.toFixed(0)} MiB (bar < 1536) ${rssMiB < 1536 ? 'PASS' : 'FAIL'}`);
input.dispose();
