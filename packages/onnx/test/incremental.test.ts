// Incremental Occlusion on converted models: core's planner accepts the architectures whose layers it knows, and the
// incremental maps equal full recomputation within 1e-4 of the maximum (wasm).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { asModel, Occlusion, planIncremental } from '@easy-explain/core/internal';
import { convertOnnx } from '@easy-explain/onnx';
import { maxAbsDiff, onnxBytes, onnxIndex, referenceArray, take, useBackend } from './helpers';

// Which models plan incrementally, and how far: the head starts at the first layer reading global information.
const EXPECTED: Record<string, { ok: boolean; headStartsWith?: string; reason?: RegExp }> = {
  resnet18: { ok: true, headStartsWith: 'GlobalAveragePool' },
  mobilenet_v2: { ok: true, headStartsWith: 'GlobalAveragePool' },
  squeezenet1_1: { ok: true, headStartsWith: 'GlobalAveragePool' },
  'mobilenet_v1_0.75': { ok: true, headStartsWith: 'global_average_pooling2d_1' },
  // HardSwish is a custom layer the planner does not know.
  mobilenet_v3_small: { ok: false, reason: /OnnxHardSwish/ },
};

describe('incremental occlusion on converted models (wasm)', () => {
  beforeAll(() => useBackend('wasm'));

  it('tiny_cnn plans with its head at the mean', async () => {
    const layers = await convertOnnx(onnxBytes('tiny_cnn'));
    const planned = planIncremental(layers, [32, 32, 3]);
    expect(planned.ok).toBe(true);
    if (planned.ok) expect(planned.plan.headLayers).toEqual(['ReduceMean_output_0', 'output']);
    layers.dispose();
  });

  for (const [name, expected] of Object.entries(EXPECTED)) {
    describe(name, () => {
      let layers: tfl.LayersModel;
      let x: tf.Tensor4D;
      beforeAll(async () => {
        layers = await convertOnnx(onnxBytes(name));
        const input = referenceArray(`${name}/input`);
        x = tf.tensor4d(input.values, input.shape as [number, number, number, number]);
      });
      afterAll(() => {
        x.dispose();
        layers.dispose();
      });

      it(expected.ok ? 'plans incrementally' : 'says why it cannot plan', () => {
        const planned = planIncremental(layers, [224, 224, 3]);
        console.log(`${name}: ${planned.ok ? `incremental, head ${planned.plan.headLayers.join(' → ')}` : planned.reason}`);
        expect(planned.ok).toBe(expected.ok);
        if (planned.ok) expect(planned.plan.headLayers[0]).toContain(expected.headStartsWith);
        else expect(planned.reason).toMatch(expected.reason as RegExp);
      });

      it.runIf(expected.ok)('incremental Occlusion equals full recomputation within 1e-4 of the maximum', async () => {
        const model = asModel(layers);
        const options = { target: onnxIndex.models[name].target, slidingWindowShapes: [56, 56, 3] as [number, number, number], strides: [28, 28, 3] as [number, number, number], baselines: 0 };
        const before = tf.memory().numTensors;
        const warnings: string[] = [];
        const incremental = await take(await new Occlusion(model).attribute(x, { ...options, onWarning: (m: string) => warnings.push(m) }));
        const full = await take(await new Occlusion(model).attribute(x, { ...options, incremental: false }));
        expect(tf.memory().numTensors).toBe(before);
        expect(warnings).toEqual([]);
        const max = full.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        const err = maxAbsDiff(incremental, full);
        console.log(`${name}: incremental vs full max |Δ| / max ${(err / max).toExponential(2)}`);
        expect(err).toBeLessThan(1e-4 * max);
      });
    });
  }
});
