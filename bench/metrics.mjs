// RISE deletion and insertion with 112 steps (448 pixels per step) on MobileNet v1 0.75 at 224 on the wasm backend
// (Node), the attribution being Saliency of the top class on chelsea.png: one timed run of each on 1 and 2 TF.js
// workers after a warm-up, and on the native engine (onnxruntime-node, mobilenet_v1_0.75.onnx) when it is
// installed. Run after `npm run build`.
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
// Loading and backend setup are backend-node's, as a user's script would do it.
import { loadImage, loadModel, setupBackend } from '@easy-explain/backend-node';
import { defaultPerturbationsPerEval, deletion, insertion, preprocess, Saliency } from '@easy-explain/core/internal';

const MODEL = fileURLToPath(new URL('../../shared/models/mobilenet_v1_0.75_224/model.json', import.meta.url));
const ONNX = fileURLToPath(new URL('../../shared/models/onnx/mobilenet_v1_0.75.onnx', import.meta.url));
const PHOTO = fileURLToPath(new URL('../../shared/images/chelsea.png', import.meta.url));
const STEPS = 112;

await setupBackend('wasm');
const model = await loadModel(MODEL);
const photo = await loadImage(PHOTO);
const input = preprocess(photo, 'mobilenet');
photo.dispose();

const scores = model.predict(input);
const target = (await tf.argMax(scores, 1).data())[0];
scores.dispose();
const attribution = await new Saliency(model).attribute(input, { target });

// Forward pass cost at the default batch, for reference: a curve is steps + 1 images.
const batch = defaultPerturbationsPerEval(input.shape);
const copies = tf.tile(input, [batch, 1, 1, 1]);
const warm = model.predict(copies);
await warm.data();
warm.dispose();
const t0 = performance.now();
const timed = model.predict(copies);
await timed.data();
timed.dispose();
const perImage = (performance.now() - t0) / batch;
copies.dispose();

const rows = [];
const before = tf.memory().numTensors;
async function run(m, label, workers) {
  // The first call on workers (TF.js or the native engine's) also starts them: warm up with a short curve.
  await deletion(m, input, attribution, { target, steps: 8, workers });
  let total = 0;
  for (const [name, metric] of [['deletion', deletion], ['insertion', insertion]]) {
    const start = performance.now();
    const result = await metric(m, input, attribution, { target, steps: STEPS, workers });
    const seconds = (performance.now() - start) / 1000;
    total += seconds;
    rows.push([`${name}, ${label}`, `${seconds.toFixed(2)} s`, `AUC ${result.values[0].toFixed(4)}`, `${STEPS + 1} images, batch ${batch}`]);
  }
  rows.push([`deletion + insertion, ${label}`, `${total.toFixed(2)} s`]);
}
await run(model, '1 thread', 1);
await run(model, '2 workers', 2);
const leaked = tf.memory().numTensors - before;

const warnings = [];
const native = await loadModel(ONNX, { engine: 'native', preset: 'mobilenet', onWarning: (m) => warnings.push(m) });
if (warnings.some((m) => /onnxruntime/i.test(m))) rows.push(['native', `skipped: ${warnings[0]}`]);
else await run(native, 'native', 1);
native.dispose();

console.log(`metrics bench: MobileNet v1 0.75 @224, wasm (SIMD, no threads), class ${target}, ${STEPS} steps; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`  forward: ${perImage.toFixed(1)} ms/image at batch ${batch}`);
for (const row of rows) console.log('  ' + row.join('  '));
console.log(`  tensors left behind: ${leaked}`);
tf.dispose([input, attribution]);
model.dispose?.();
if (leaked !== 0) process.exitCode = 1;
