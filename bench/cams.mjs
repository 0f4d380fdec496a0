// ScoreCAM and AblationCAM (pytorch-grad-cam's forward-only CAMs) on MobileNet v1 0.75 at 224 on the wasm backend
// (Node), layer conv_pw_13_relu (7×7×768): wall time of one run each on 1 and 2 TF.js workers, and both on the
// native engine (onnxruntime-node, mobilenet_v1_0.75.onnx, its default layer) when it is installed. ScoreCAM runs
// 768 masked 224×224 inputs (batches of 16); AblationCAM runs the layers after conv_pw_13_relu on 768 ablated
// activations (batches of 32) plus one pass of the layers before it per batch. Run after `npm run build`.
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel, setupBackend } from '@easy-explain/backend-node';
import { AblationCam, ScoreCam } from '@easy-explain/core';

const MODEL = fileURLToPath(new URL('../../shared/models/mobilenet_v1_0.75_224/model.json', import.meta.url));
const ONNX = fileURLToPath(new URL('../../shared/models/onnx/mobilenet_v1_0.75.onnx', import.meta.url));
const LAYER = 'conv_pw_13_relu';

await setupBackend('wasm');
const model = await loadModel(MODEL);
const image = tf.randomUniform([1, 224, 224, 3], -1, 1, 'float32', 3);
const rows = [];

const batch16 = tf.tile(image, [16, 1, 1, 1]);
const forward = async () => { const s = model.predict(batch16); await s.data(); s.dispose(); };
await forward(); // warm-up
let t0 = performance.now();
await forward();
rows.push(['forward, batch 16', `${((performance.now() - t0) / 16).toFixed(1)} ms/image`]);
batch16.dispose();

async function time(Method, m, layer, options) {
  const cam = new Method(m, layer);
  const start = performance.now();
  const { raw, final } = await cam.explain(image, options);
  const seconds = (performance.now() - start) / 1000;
  tf.dispose([raw, final]);
  return { seconds, ranOn: cam.ranOn };
}

for (const [name, Method, batchSize] of [['ScoreCAM', ScoreCam, 16], ['AblationCAM', AblationCam, 32]]) {
  for (const workers of [1, 2]) {
    // The first call on workers also starts them (each loads the model): time a second call.
    if (workers > 1) await time(Method, model, LAYER, { batchSize: 8, workers, target: 0 });
    const { seconds, ranOn } = await time(Method, model, LAYER, { batchSize, workers });
    rows.push([`${name} (batch ${batchSize}, 768 channels), ${ranOn.parallel} ${ranOn.runsOn === 'thread' ? 'thread' : 'workers'}`, `${seconds.toFixed(1)} s`]);
  }
}

const warnings = [];
const native = await loadModel(ONNX, { engine: 'native', onWarning: (m) => warnings.push(m) });
if (warnings.some((m) => /onnxruntime/i.test(m))) {
  rows.push(['native', `skipped: ${warnings[0]}`]);
} else {
  for (const [name, Method, batchSize] of [['ScoreCAM', ScoreCam, 16], ['AblationCAM', AblationCam, 32]]) {
    const layer = new Method(native).layer;
    await time(Method, native, undefined, { batchSize, target: 0 }); // warm-up (starts the engine's workers and sessions)
    const { seconds, ranOn } = await time(Method, native, undefined, { batchSize, onWarning: (m) => warnings.push(m) });
    rows.push([`${name} (batch ${batchSize}, layer ${layer}), ${ranOn.runsOn}, ${ranOn.parallel} at a time`, `${seconds.toFixed(1)} s`]);
  }
  if (warnings.length > 0) rows.push(['warnings', warnings.join(' | ')]);
}
native.dispose();
image.dispose();

console.log(`cams bench: MobileNet v1 0.75 @224, layer ${LAYER}, wasm (SIMD, no threads), one run each; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const row of rows) console.log('  ' + row.join('  '));
model.dispose();
