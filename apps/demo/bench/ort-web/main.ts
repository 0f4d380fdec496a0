// The browser bench's page for onnxruntime-web: forward ms/image of an ONNX model on onnxruntime-web's wasm
// (threads from ?threads=) and on TF.js (its conversion, ?tf=wasm|webgpu|none), then Occlusion's job on each scorer
// (?occlusion=ort,tfjs,tfjs-full: onnxruntime-web, TF.js incremental as the demo runs it, TF.js full forward passes).
// It runs in the page's main thread: a bench, not the demo. Results land in window.benchResult.
import * as ort from 'onnxruntime-web/wasm';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
// The wasm glue as a file of its own: its thread workers load it, not this page's bundle.
import ortGlue from 'onnxruntime-web/ort-wasm-simd-threaded.mjs?url';
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage, loadModel, prepareInput, setupBackend } from '@easy-explain/backend-web';
import { Occlusion, type AblationContext } from '@easy-explain/core/internal';
import { nchwAblationScorer, predictNHWC, type PredictNCHW } from '@easy-explain/runtime';
import simd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import plain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';

const params = new URLSearchParams(location.search);
const threads = Number(params.get('threads') ?? 1);
const tfBackend = params.get('tf') ?? 'wasm';
const modelUrl = params.get('model') ?? '/models/mobilenet_v1_0.75.onnx';
const window_ = Number(params.get('window') ?? 45);
const stride = Number(params.get('stride') ?? 9);
const occlusion = params.get('occlusion') ?? 'ort,tfjs';
const seconds = Number(params.get('seconds') ?? 3);

async function timeIt(run: () => Promise<unknown>): Promise<number> {
  // Warm up for as long as we measure: V8 first runs a big wasm module on its baseline compiler and optimizes later.
  for (const t0 = performance.now(); performance.now() - t0 < seconds * 1000; ) await run();
  const t0 = performance.now();
  let reps = 0;
  while (performance.now() - t0 < seconds * 1000 || reps < 2) {
    await run();
    reps++;
  }
  return (performance.now() - t0) / reps;
}

async function main() {
  const result: Record<string, unknown> = { threads, crossOriginIsolated: globalThis.crossOriginIsolated, tfBackend };
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.wasmPaths = { wasm: ortWasm, mjs: ortGlue };
  const bytes = new Uint8Array(await (await fetch(modelUrl)).arrayBuffer());
  let t = performance.now();
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  result.ortCreateMs = performance.now() - t;
  result.ortThreads = ort.env.wasm.numThreads;
  const image = await decodeImage('/image.png');
  const forward: PredictNCHW = async (data, dims) => {
    const out = (await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, dims) }))[session.outputNames[0]];
    return { scores: out.data as Float32Array, classes: out.dims[1] };
  };
  const ortForward: Record<string, number> = {};
  for (const n of [1, 16]) {
    const x = new Float32Array(n * 3 * 224 * 224).fill(0.1);
    ortForward[`batch${n}`] = (await timeIt(() => forward(x, [n, 3, 224, 224]))) / n;
  }
  result.ortForwardMsPerImage = ortForward;
  console.log(`onnxruntime-web forward ms/image: ${JSON.stringify(ortForward)}`);

  if (tfBackend !== 'none') {
    result.tfBackendInUse = await setupBackend(tfBackend, { wasmPaths: { 'tfjs-backend-wasm-simd.wasm': simd, 'tfjs-backend-wasm.wasm': plain } });
    t = performance.now();
    const model = await loadModel(modelUrl, { preset: 'imagenet' });
    result.tfLoadMs = performance.now() - t;
    const { input } = await prepareInput(image, 'imagenet', model.inputShape);
    const inputData = (await input.data()) as Float32Array;
    const ortScores = (await predictNHWC(forward, inputData, input.shape)).scores;
    const target = ortScores.reduce((best, v, i) => (v > ortScores[best] ? i : best), 0);
    result.target = target;
    const tfForward: Record<string, number> = {};
    for (const n of [1, 16]) {
      const x = tf.zeros([n, 224, 224, 3]);
      tfForward[`batch${n}`] = (await timeIt(async () => {
        const y = model.predict(x as tf.Tensor4D) as tf.Tensor;
        await y.data();
        y.dispose();
      })) / n;
      x.dispose();
    }
    result.tfForwardMsPerImage = tfForward;
    console.log(`TF.js forward ms/image: ${JSON.stringify(tfForward)}`);
    const tfScores = model.predict(input) as tf.Tensor;
    const tfData = (await tfScores.data()) as Float32Array;
    tfScores.dispose();
    result.scoreMaxAbsDiff = Math.max(...tfData.map((v, i) => Math.abs(v - ortScores[i])));

    // Occlusion's ablated copies scored by onnxruntime-web: full forward passes, built straight in NCHW.
    const ortScorer = Object.assign((context: AblationContext) => nchwAblationScorer(forward, context), {
      predictInput: (data: Float32Array, shape: [number, number, number, number]) => predictNHWC(forward, data, shape),
    });
    const options = { target, slidingWindowShapes: [window_, window_, 3] as [number, number, number], strides: stride, workers: 1 };
    const maps: Record<string, Float32Array> = {};
    const occlusionSeconds: Record<string, number> = {};
    for (const engine of occlusion.split(',').filter(Boolean)) {
      t = performance.now();
      // 'tfjs' is the default (incremental inference on TF.js); 'tfjs-full' runs TF.js on full forward passes, as 'ort' does.
      const run = { ort: { ...options, scorer: ortScorer }, tfjs: options, 'tfjs-full': { ...options, incremental: false } }[engine];
      if (!run) throw new Error(`occlusion=${engine}: name ort, tfjs or tfjs-full`);
      const map = await new Occlusion(model).attribute(input, run);
      occlusionSeconds[engine] = (performance.now() - t) / 1000;
      console.log(`occlusion on ${engine}: ${occlusionSeconds[engine]} s`);
      maps[engine] = (await map.data()) as Float32Array;
      map.dispose();
    }
    result.occlusionSeconds = occlusionSeconds;
    if (maps.ort && maps.tfjs) {
      let max = 0;
      let diff = 0;
      for (const v of maps.tfjs) max = Math.max(max, Math.abs(v));
      for (let i = 0; i < maps.ort.length; i++) diff = Math.max(diff, Math.abs(maps.ort[i] - maps.tfjs[i]));
      result.occlusionMaxDiffOfMax = diff / max;
    }
    input.dispose();
    model.dispose();
  }
  await session.release();
  return result;
}

main().then(
  (r) => ((window as unknown as { benchResult: unknown }).benchResult = r),
  (e) => ((window as unknown as { benchResult: unknown }).benchResult = { error: String(e?.stack ?? e) }),
);
