// Gradient methods on MobileNet v1 0.75 (../shared/models) on the wasm backend: completeness and Grad-CAM's focus.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { asModel, IntegratedGradients, LayerGradCam, preprocess, Saliency, type Model } from '@easy-explain/core/internal';
import { join } from 'node:path';
import { SHARED, loadLayersModel, loadPhoto, setKernelLeakChecks, useBackend } from './helpers';

const ESPRESSO = 967;

describe('gradient methods on MobileNet v1 0.75 (wasm)', () => {
  let layers: Awaited<ReturnType<typeof loadLayersModel>>;
  let logits: Model;
  let coffee: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend('wasm');
    setKernelLeakChecks(false);
    layers = await loadLayersModel(join(SHARED, 'models/mobilenet_v1_0.75_224/model.json'));
    // Logits (conv_preds): IG's completeness is checked on the pre-softmax score, as Captum users do with torchvision.
    logits = asModel(layers, { outputLayer: 'conv_preds' });
    const photo = await loadPhoto('coffee.png');
    coffee = preprocess(photo, 'mobilenet');
    photo.dispose();
  });
  afterAll(() => {
    coffee.dispose();
    layers.dispose();
    setKernelLeakChecks(true);
  });

  it('Grad-CAM on coffee.png (default layer conv_pw_13_relu) peaks on the cup, not the border', async () => {
    const before = tf.memory().numTensors;
    const cam = new LayerGradCam(logits);
    expect(cam.layer).toBe('conv_pw_13_relu');
    const map = await cam.attribute(coffee, { target: ESPRESSO, reluAttributions: true });
    expect(map.shape).toEqual([1, 7, 7, 1]);
    const v = await map.data();
    map.dispose();
    expect(tf.memory().numTensors).toBe(before);
    let peak = 0;
    for (let i = 1; i < v.length; i++) if (v[i] > v[peak]) peak = i;
    const [row, col] = [Math.floor(peak / 7), peak % 7];
    console.log(`Grad-CAM peak at (${row}, ${col}) of 7×7; map: ${Array.from(v, (a) => a.toFixed(2)).join(' ')}`);
    // After the centre crop the cup fills rows 0–4 and columns 1–5 of the 7×7 grid (the saucer and table lie below
    // and beside it): the peak must be there, and the map's mean there well above the rest's.
    expect(row).toBeLessThanOrEqual(4);
    expect(col).toBeGreaterThanOrEqual(1);
    expect(col).toBeLessThanOrEqual(5);
    let cup = 0;
    let rest = 0;
    for (let r = 0; r < 7; r++) for (let c = 0; c < 7; c++) {
      if (r <= 4 && c >= 1 && c <= 5) cup += v[r * 7 + c] / 25;
      else rest += v[r * 7 + c] / 24;
    }
    expect(cup).toBeGreaterThan(1.5 * rest);
  });

  it('Integrated Gradients (gausslegendre, 50 steps) is complete: |delta| ≪ f(x) − f(0)', async () => {
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const { attribution, delta } = await new IntegratedGradients(logits).attributeWithDelta(coffee, { target: ESPRESSO });
    const seconds = (performance.now() - t0) / 1000;
    const total = tf.sum(attribution);
    const sum = (await total.data())[0];
    total.dispose();
    attribution.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const gap = sum - delta[0];
    console.log(`IG on MobileNet: Σ attribution ${sum.toFixed(4)}, f(x) − f(0) ${gap.toFixed(4)}, delta ${delta[0].toExponential(3)} (${seconds.toFixed(1)} s)`);
    expect(Math.abs(gap)).toBeGreaterThan(1);
    expect(Math.abs(delta[0])).toBeLessThan(0.05 * Math.abs(gap));
  });

  it('Saliency: wasm input gradients (depthwise rule, no filter gradients) match a finite difference', async () => {
    const before = tf.memory().numTensors;
    const grads = await new Saliency(logits).attribute(coffee, { target: ESPRESSO, abs: false });
    const g = await grads.data();
    grads.dispose();
    // Directional derivative along the gradient itself vs a central difference of the logit.
    const eps = 1e-2;
    const score = (sign: number) =>
      tf.tidy(() => {
        const dir = tf.tensor4d(g as Float32Array, coffee.shape);
        const unit = tf.div(dir, tf.norm(dir));
        return tf.gather(logits.predict(tf.add(coffee, tf.mul(unit, sign * eps)) as tf.Tensor4D), [ESPRESSO], 1).dataSync()[0];
      });
    let norm = 0;
    for (const value of g) norm += value * value;
    const numeric = (score(1) - score(-1)) / (2 * eps);
    console.log(`‖∇‖ ${Math.sqrt(norm).toFixed(4)} vs finite difference ${numeric.toFixed(4)}`);
    expect(Math.abs(numeric - Math.sqrt(norm))).toBeLessThan(0.05 * Math.sqrt(norm));
    expect(tf.memory().numTensors).toBe(before);
  });
});
