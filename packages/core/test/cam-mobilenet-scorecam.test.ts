// pytorch-grad-cam's ScoreCAM on the real-weight MobileNet v1 0.75 (wasm): 768 masked copies of the 224×224 input,
// 48 batches of 16, against the reference (raw within 1e-4 × its maximum, final within 2/255). Its own file
// because it takes about a minute on an idle 2-core machine (bench/cams.mjs measures it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { asModel, ScoreCam, type Model } from '@easy-explain/core/internal';
import { join } from 'node:path';
import { SHARED, loadLayersModel, maxAbsDiff, setKernelLeakChecks, useBackend } from './helpers';
import { camArray, noLeak } from './cam-helpers';

describe('ScoreCAM vs pytorch-grad-cam on wasm, mobilenet_v1_0.75', () => {
  let layers: Awaited<ReturnType<typeof loadLayersModel>>;
  let model: Model;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend('wasm');
    setKernelLeakChecks(false);
    layers = await loadLayersModel(join(SHARED, 'models/mobilenet_v1_0.75_224/model.json'));
    model = asModel(layers);
    const input = camArray('mobilenet_v1_0.75/input');
    x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
  });
  afterAll(() => {
    x.dispose();
    layers.dispose();
    setKernelLeakChecks(true);
  });

  it('ScoreCAM (batch 16): raw and final', { timeout: 600_000 }, async () => {
    const progress: number[] = [];
    const t0 = performance.now();
    const result = await noLeak(
      () => new ScoreCam(model, 'conv_pw_13_relu').explain(x, { onProgress: (done) => progress.push(done) }),
      (r) => [r.raw, r.final],
    );
    const seconds = (performance.now() - t0) / 1000;
    expect(progress.length).toBe(768 / 16);
    expect(progress.at(-1)).toBe(768);
    const refRaw = camArray('mobilenet_v1_0.75/pytorch_grad_cam/ScoreCAM/raw');
    const refFinal = camArray('mobilenet_v1_0.75/pytorch_grad_cam/ScoreCAM/final');
    expect(result.targets).toEqual([refRaw.target]);
    const rawErr = maxAbsDiff(await result.raw.data(), refRaw.data);
    const finalErr = maxAbsDiff(await result.final.data(), refFinal.data);
    console.log(`ScoreCAM (${seconds.toFixed(1)} s): raw max |Δ| ${rawErr.toExponential(2)}, final ${finalErr.toExponential(2)}`);
    expect(rawErr).toBeLessThan(1e-4 * refRaw.max_abs);
    expect(finalErr).toBeLessThan(2 / 255);
    tf.dispose([result.raw, result.final]);
  });
});
