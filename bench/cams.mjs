// ScoreCAM and AblationCAM (pytorch-grad-cam's forward-only CAMs) on MobileNet v1 0.75 at 224 on the wasm backend
// (Node), layer conv_pw_13_relu (7×7×768): wall time of one run each, with the forward pass cost for context.
// ScoreCAM runs 768 masked 224×224 inputs (batches of 16); AblationCAM runs the layers after conv_pw_13_relu on
// 768 ablated activations (batches of 32) plus one pass of the layers before it per batch. Run after `npm run build`.
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel, setupBackend } from '@easy-explain/backend-node';
import { AblationCam, ScoreCam } from '@easy-explain/core';

const MODEL = fileURLToPath(new URL('../../shared/models/mobilenet_v1_0.75_224/model.json', import.meta.url));
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

for (const [name, Method, batchSize] of [['ScoreCAM', ScoreCam, 16], ['AblationCAM', AblationCam, 32]]) {
  t0 = performance.now();
  const { raw, final } = await new Method(model, LAYER).explain(image, { batchSize });
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([raw, final]);
  rows.push([`${name} (batch ${batchSize}, 768 channels)`, `${seconds.toFixed(1)} s`]);
}
image.dispose();

console.log(`cams bench: MobileNet v1 0.75 @224, layer ${LAYER}, wasm (SIMD, no threads), one run each`);
for (const row of rows) console.log('  ' + row.join('  '));
model.dispose();
