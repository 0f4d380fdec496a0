// Load-and-convert time and forward ms/image on wasm for an ONNX model (default resnet18.onnx).
// Run after `npm run build`: node packages/onnx/bench/convert.mjs [model-name]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { convertOnnx } from '../dist/index.js';

const name = process.argv[2] ?? 'resnet18';
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
setWasmPaths(fileURLToPath(new URL('../../../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url)));
await tf.setBackend('wasm');
await tf.ready();

const path = fileURLToPath(new URL(`../../../../shared/models/onnx/${name}.onnx`, import.meta.url));
const times = [];
let model;
for (let run = 0; run < 3; run++) {
  model?.dispose();
  const t0 = performance.now();
  model = await convertOnnx(new Uint8Array(readFileSync(path)));
  times.push(performance.now() - t0);
}
const [, h, w, c] = model.inputs[0].shape;
const forward = async (batch) => {
  const x = tf.randomUniform([batch, h, w, c]);
  const y = model.predict(x);
  await y.data();
  tf.dispose([x, y]);
};
await forward(1);
const result = {};
for (const batch of [1, 8]) {
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) await forward(batch);
  result[batch] = (performance.now() - t0) / 5 / batch;
}
model.dispose();
console.log(`${name}: read+convert ${times.map((t) => t.toFixed(0)).join(' / ')} ms (first / warm), forward ${result[1].toFixed(1)} ms/image at batch 1, ${result[8].toFixed(1)} ms/image at batch 8 (wasm, no threads)`);
