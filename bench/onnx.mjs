// ONNX models through the default path (issue 13): load-and-convert time, forward ms/image on wasm, and
// easy-explain's Occlusion job (window 45, stride 9) on the TF.js conversion (incremental, worker threads), with the
// FLOPs incremental inference saves. ResNet-18 is the shared PyTorch export; ResNet-50 is generated with random
// weights (bench/resnet50-onnx.mjs). One run each; the load average is printed with the numbers.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { Occlusion, occlusionFlops } from '@easy-explain/core/internal';
import { loadModel, setupBackend } from '@easy-explain/backend-node';
import { resnet50Onnx } from './resnet50-onnx.mjs';

const shared = (path) => fileURLToPath(new URL(`../../shared/${path}`, import.meta.url));
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
const only = process.argv.slice(2).find((a) => !a.startsWith('-'));
const temp = mkdtempSync(join(tmpdir(), 'ee-bench-onnx-'));
const resnet50 = join(temp, 'resnet50.onnx');
writeFileSync(resnet50, resnet50Onnx());
const models = [
  ['ResNet-18', shared('models/onnx/resnet18.onnx')],
  ['ResNet-50', resnet50],
].filter(([name]) => !only || name.toLowerCase().includes(only.toLowerCase()));

await setupBackend('wasm');
const input = tf.tidy(() => {
  const bytes = readFileSync(shared('reference/onnx/resnet18__input.bin'));
  return tf.tensor4d(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), [1, 224, 224, 3]);
});
console.log(`load average at start: ${load()}`);
for (const [name, file] of models) {
  let t0 = performance.now();
  const model = await loadModel(file, { preset: 'imagenet' });
  const loadMs = performance.now() - t0;
  tf.tidy(() => model.predict(input)).dispose(); // warm-up
  const runs = 5;
  t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const y = tf.tidy(() => model.predict(input));
    await y.data();
    y.dispose();
  }
  const forwardMs = (performance.now() - t0) / runs;
  const settings = { slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3] };
  const flops = occlusionFlops(model.tfModel, { inputShape: [224, 224, 3], ...settings, perturbationsPerEval: 27 });
  const occlusion = new Occlusion(model);
  let first;
  t0 = performance.now();
  const map = await occlusion.attribute(input, {
    target: 0,
    ...settings,
    baselines: 0,
    workers: 'auto',
    progressive: true,
    onPartial: () => (first ??= performance.now() - t0),
  });
  const occlusionS = (performance.now() - t0) / 1000;
  map.dispose();
  const saved = 'reason' in flops ? `n/a (${flops.reason})` : `${(flops.saved * 100).toFixed(1)} % (${(flops.full / 1e9).toFixed(0)} G → ${(flops.incremental / 1e9).toFixed(0)} G)`;
  console.log(
    `${name}: load + convert ${(loadMs / 1000).toFixed(2)} s; forward ${forwardMs.toFixed(0)} ms/image (wasm, batch 1); ` +
      `Occlusion 442 forwards ${occlusionS.toFixed(1)} s on ${occlusion.workers} workers, first coarse map ${((first ?? 0) / 1000).toFixed(2)} s; ` +
      `FLOPs saved ${saved}; load ${load()}`,
  );
  model.dispose();
}
input.dispose();
rmSync(temp, { recursive: true, force: true });
