// Without onnxruntime-node (simulated: importing it throws, as when the optional dependency was not installed),
// the native engine is undefined, says why once, and Occlusion scores on TF.js.
import { describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Occlusion } from '@easy-explain/core/internal';
import { loadModel, nativeOcclusionScorer, OnnxEngine, setupBackend } from '@easy-explain/backend-node';
import { SHARED } from './helpers';

vi.mock('onnxruntime-node', () => {
  throw new Error("Cannot find package 'onnxruntime-node'");
});

const REFERENCE = join(SHARED, 'reference');

describe('OnnxEngine without onnxruntime-node', () => {
  it('resolves to undefined, warns once, and Occlusion still matches Captum on TF.js', async () => {
    const bytes = readFileSync(join(SHARED, 'models', 'onnx', 'tiny_cnn.onnx'));
    const warnings: string[] = [];
    expect(await OnnxEngine.create(bytes, { onWarning: (m) => warnings.push(m) })).toBeUndefined();
    expect(await nativeOcclusionScorer(bytes, { onWarning: (m) => warnings.push(m) })).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/onnxruntime-node is not available .*TF\.js \(wasm\)/);

    await setupBackend('cpu');
    const model = await loadModel(join(REFERENCE, 'model', 'model.json'));
    const c = JSON.parse(readFileSync(join(REFERENCE, 'occlusion.json'), 'utf8')).cases[0];
    const inputs = JSON.parse(readFileSync(join(REFERENCE, 'inputs.json'), 'utf8')).inputs;
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(inputs.find((i: any) => i.name === c.input).image);
    const { sliding_window_shapes, strides, baselines } = c.params.nhwc_equivalent;
    const map = await new Occlusion(model).attribute(x, { target: c.target, slidingWindowShapes: sliding_window_shapes, strides, baselines });
    const expected = (c.attribution as number[][][][]).flat(3);
    const values = map.dataSync();
    let worst = 0;
    for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i] - expected[i]));
    expect(worst).toBeLessThan(1e-4 * c.max_abs);
    tf.dispose([x, map]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
