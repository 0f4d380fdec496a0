// Gradient methods on MobileNet v1 0.75 at 224 on the wasm backend (Node): forward vs input-gradient cost, and the
// wall time of IG (50 steps), Saliency and Grad-CAM, each the median of 3. Run after `npm run build`.
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
// Loading and backend setup are backend-node's, as a user's script would do it.
import { loadModel, setupBackend } from '@easy-explain/backend-node';
import {
  defaultInternalBatchSize,
  inputGradients,
  IntegratedGradients,
  LayerGradCam,
  Saliency,
} from '@easy-explain/core/internal';

const MODEL = fileURLToPath(new URL('../../shared/models/mobilenet_v1_0.75_224/model.json', import.meta.url));
const RUNS = 3;
const BAR = 4;

async function median(fn) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
}

await setupBackend('wasm');

const model = await loadModel(MODEL, { outputLayer: 'conv_preds' });
const target = 967;
const igBatch = defaultInternalBatchSize([1, 224, 224, 3], 50);
const rows = [];
let worst = 0;

for (const batch of [1, igBatch]) {
  const x = tf.randomUniform([batch, 224, 224, 3], -1, 1, 'float32', 1);
  const targets = new Array(batch).fill(target);
  const forward = async () => { const s = model.predict(x); await s.data(); s.dispose(); };
  const gradient = async () => { const g = inputGradients(model, x, targets); await g.data(); g.dispose(); };
  await forward();
  await gradient(); // warm-up: kernel setup and XNNPACK operator caches
  const f = (await median(forward)) / batch;
  const g = (await median(gradient)) / batch;
  worst = Math.max(worst, g / f);
  rows.push([`batch ${batch}`, `forward ${f.toFixed(1)} ms/image`, `input gradient ${g.toFixed(1)} ms/image`, `ratio ${(g / f).toFixed(2)}×`]);
  x.dispose();
}

const image = tf.randomUniform([1, 224, 224, 3], -1, 1, 'float32', 2);
const timeMethod = async (name, run) => {
  const ms = await median(async () => { const a = await run(); await a.data(); a.dispose(); });
  rows.push([name, `${(ms / 1000).toFixed(2)} s`]);
};
await timeMethod(`IntegratedGradients (gausslegendre, 50 steps, internal batch ${igBatch})`, () =>
  new IntegratedGradients(model).attribute(image, { target }));
await timeMethod('Saliency', () => new Saliency(model).attribute(image, { target }));
await timeMethod('LayerGradCam (conv_pw_13_relu)', () => new LayerGradCam(model).attribute(image, { target }));
image.dispose();

console.log(`gradients bench: MobileNet v1 0.75 @224, wasm (SIMD, no threads), median of ${RUNS}`);
for (const row of rows) console.log('  ' + row.join('  '));
console.log(`  input gradient / forward: worst ${worst.toFixed(2)}× (bar ≤ ${BAR}×) ${worst <= BAR ? 'OK' : 'OVER'}`);
model.dispose();
if (worst > BAR) process.exitCode = 1;
