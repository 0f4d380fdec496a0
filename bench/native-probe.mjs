// Native engine probe: easy-explain's Occlusion job (window 45, stride 9) on several OnnxEngine configurations in
// interleaved rounds, so that a shared host's load hits them alike. Prints the exact seconds and the first coarse
// map's share per round. Usage: REPS=4 node bench/native-probe.mjs mobilenet|resnet '[{}, {"batch": 27}, …]'
// (each object: OnnxEngineOptions, plus perEval for Occlusion's perturbationsPerEval).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { Occlusion } from '@easy-explain/core/internal';
import { OnnxEngine, setupBackend } from '@easy-explain/backend-node';
import { resnet50Onnx } from './resnet50-onnx.mjs';
const shared = (p) => fileURLToPath(new URL(`../../shared/${p}`, import.meta.url));
const which = process.argv[2] ?? 'mobilenet';
const configs = JSON.parse(process.argv[3] ?? '[{}]');
const onnx = which === 'mobilenet' ? readFileSync(shared('models/onnx/mobilenet_v1_0.75.onnx')) : resnet50Onnx(1);
const b = readFileSync(shared(which === 'mobilenet' ? 'reference/onnx/mobilenet_v1_0.75__input.bin' : 'reference/onnx/resnet18__input.bin'));
const nhwc = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
await setupBackend('wasm');
const x = tf.tensor4d(nhwc, [1, 224, 224, 3]);
const model = { predict: () => { throw new Error('unused'); }, outputKind: 'logits' };
const target = 3;
const engines = [];
for (const c of configs) {
  const { perEval, ...opts } = c;
  const engine = await OnnxEngine.create(onnx, opts);
  (await new Occlusion(model).attribute(x, { target, slidingWindowShapes: [112, 112, 3], strides: [112, 112, 3], baselines: 0, scorer: engine.scorer })).dispose();
  engines.push({ c, engine, perEval, times: [], firsts: [] });
}
for (let rep = 0; rep < Number(process.env.REPS ?? 2); rep++) for (const e of engines) {
  let first = 0;
  const t0 = performance.now();
  const m = await new Occlusion(model).attribute(x, { target, slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3], baselines: 0, scorer: e.engine.scorer, perturbationsPerEval: e.perEval, progressive: true, onPartial: () => (first ||= performance.now() - t0) });
  const s = (performance.now() - t0) / 1000;
  m.dispose();
  e.times.push(s.toFixed(2)); e.firsts.push(((first / 10) / s).toFixed(1) + '%');
}
for (const e of engines) { console.log(which, JSON.stringify(e.c), 'exact s', e.times.join(' '), 'first', e.firsts.join(' ')); await e.engine.dispose(); }
x.dispose();
