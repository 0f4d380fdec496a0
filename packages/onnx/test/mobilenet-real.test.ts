// mobilenet_v1_0.75.onnx carries real ImageNet weights (those of the TF.js MobileNet in ../shared/models): on the
// chelsea crop it gives PROVENANCE's top-5, and its Occlusion map equals the TF.js model's within 1e-4 of the maximum.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { asModel, Occlusion } from '@easy-explain/core/internal';
import { convertOnnx } from '@easy-explain/onnx';
import { join } from 'node:path';
import { SHARED, fileHandler, maxAbsDiff, onnxBytes, referenceArray, take, useBackend } from './helpers';

describe('mobilenet_v1_0.75.onnx (real weights) on wasm', () => {
  let onnx: tfl.LayersModel;
  let tfjs: tfl.LayersModel;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend('wasm');
    onnx = await convertOnnx(onnxBytes('mobilenet_v1_0.75'));
    tfjs = await tfl.loadLayersModel(fileHandler(join(SHARED, 'models', 'mobilenet_v1_0.75_224', 'model.json')));
    // The centre 224×224 crop of chelsea.png, x/127.5 − 1.
    const input = referenceArray('mobilenet_v1_0.75/input');
    x = tf.tensor4d(input.values, input.shape as [number, number, number, number]);
  });
  afterAll(() => {
    x.dispose();
    onnx.dispose();
    tfjs.dispose();
  });

  it('top-5 on the chelsea crop is PROVENANCE’s', async () => {
    const probabilities = await take(asModel(onnx).predict(x));
    const top = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a]).slice(0, 5);
    expect(top).toEqual([281, 282, 285, 287, 293]);
    const expected = [0.484, 0.269, 0.219, 0.023, 0.003];
    top.forEach((c, i) => expect(probabilities[c]).toBeCloseTo(expected[i], 3));
  });

  it('Occlusion equals the TF.js MobileNet’s within 1e-4 of the maximum', async () => {
    const options = { target: 281, slidingWindowShapes: [56, 56, 3] as [number, number, number], strides: [28, 28, 3] as [number, number, number], baselines: 0 };
    const fromOnnx = await take(await new Occlusion(asModel(onnx)).attribute(x, options));
    const fromTfjs = await take(await new Occlusion(asModel(tfjs)).attribute(x, options));
    const max = fromTfjs.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const err = maxAbsDiff(fromOnnx, fromTfjs);
    console.log(`mobilenet v1 occlusion, ONNX vs TF.js: max |Δ| / max ${(err / max).toExponential(2)}`);
    expect(max).toBeGreaterThan(0.1);
    expect(err).toBeLessThan(1e-4 * max);
  });
});
