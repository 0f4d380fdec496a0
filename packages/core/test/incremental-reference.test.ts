// Incremental occlusion equals full recomputation (and Captum) on the reference fixture, on wasm.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { asModel, Occlusion, type Model } from '@easy-explain/core/internal';
import { incrementalScorer, planIncremental, type IncrementalScorer } from '../src/incremental/index';
import { join } from 'node:path';
import { REFERENCE, loadLayersModel, maxAbsDiff, readJson, useBackend } from './helpers';

const occlusion = readJson(join(REFERENCE, 'occlusion.json'));
const inputs = readJson(join(REFERENCE, 'inputs.json'));
const imageOf = (name: string) => inputs.inputs.find((i: any) => i.name === name).image;

for (const file of ['model.json', 'model_fused_relu.json']) {
  describe(`incremental occlusion on wasm, ${file}`, () => {
    let layers: Awaited<ReturnType<typeof loadLayersModel>>;
    let model: Model;
    beforeAll(async () => {
      await useBackend('wasm');
      layers = await loadLayersModel(join(REFERENCE, 'model', file));
      model = asModel(layers);
    });
    afterAll(() => layers.dispose());

    it('plans every layer up to the global pooling', () => {
      const planned = planIncremental(layers, [32, 32, 3]);
      expect(planned.ok ? '' : planned.reason).toBe('');
      if (!planned.ok) return;
      // conv1+relu1, conv2+relu2, pool, conv3+relu3 after fusion.
      expect(planned.plan.nodes.map((n) => n.op.kind)).toEqual(['input', 'conv', 'conv', 'pool', 'conv']);
      expect(planned.plan.headLayers).toEqual(['gap', 'fc']);
    });

    for (const c of occlusion.cases) {
      it(`${c.id}: equals full recomputation and Captum`, async () => {
        const { sliding_window_shapes, strides, baselines } = c.params.nhwc_equivalent;
        const x = tf.tensor4d(imageOf(c.input));
        const options = { target: c.target, slidingWindowShapes: sliding_window_shapes, strides, baselines };
        const full = await new Occlusion(model).attribute(x, options);
        const fullValues = full.dataSync() as Float32Array;
        full.dispose();
        const before = tf.memory().numTensors;
        const results: Float32Array[] = [];
        for (const perturbationsPerEval of [1, 7, 64]) {
          const warnings: string[] = [];
          const factory = incrementalScorer(layers, { onWarning: (m) => warnings.push(m) });
          let incremental = false;
          const scorer = async (context: Parameters<typeof factory>[0]) => {
            const made = (await factory(context)) as IncrementalScorer;
            incremental = made.incremental;
            return made;
          };
          const map = await new Occlusion(model).attribute(x, { ...options, perturbationsPerEval, scorer });
          expect(warnings).toEqual([]);
          expect(incremental).toBe(true);
          results.push(map.dataSync() as Float32Array);
          map.dispose();
        }
        expect(tf.memory().numTensors).toBe(before);
        x.dispose();
        const maxFull = Math.max(...fullValues.map(Math.abs));
        const expected = (c.attribution as number[][][][]).flat(3);
        for (const values of results) {
          const relative = maxAbsDiff(values, fullValues) / maxFull;
          expect(relative).toBeLessThan(1e-4);
          expect(maxAbsDiff(values, expected)).toBeLessThan(1e-4 * Math.max(c.max_abs, 1e-6));
        }
        console.log(`${file} ${c.id}: relative |Δ| vs full ${(maxAbsDiff(results[1], fullValues) / maxFull).toExponential(2)}, vs Captum ${maxAbsDiff(results[1], expected).toExponential(2)}`);
      });
    }
  });
}

describe('incremental occlusion: fallback and approximate mode (wasm)', () => {
  it('a model with an unsupported layer falls back to full forward passes and names the layer', async () => {
    await useBackend('wasm');
    const tfl = await import('@tensorflow/tfjs-layers');
    const net = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [16, 16, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }),
        tfl.layers.upSampling2d({ size: [2, 2], name: 'up' }),
        tfl.layers.globalAveragePooling2d({ name: 'gap' }),
        tfl.layers.dense({ units: 3, name: 'fc' }),
      ],
    });
    const planned = planIncremental(net, [16, 16, 3]);
    expect(planned.ok).toBe(false);
    if (!planned.ok) expect(planned.reason).toContain('"up" (UpSampling2D)');
    const x = tf.randomUniform([1, 16, 16, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const options = { target: 1, slidingWindowShapes: [4, 4, 3] as [number, number, number], strides: 4 };
    const full = await new Occlusion(asModel(net)).attribute(x, options);
    const warnings: string[] = [];
    const before = tf.memory().numTensors;
    const map = await new Occlusion(asModel(net)).attribute(x, { ...options, scorer: incrementalScorer(net, { onWarning: (m) => warnings.push(m) }) });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('UpSampling2D');
    expect(maxAbsDiff(map.dataSync(), full.dataSync())).toBe(0);
    tf.dispose([x, full, map]);
    net.dispose();
  });

  it('tau 1 is exact; a smaller tau approximates the exact map', async () => {
    await useBackend('wasm');
    const layers = await loadLayersModel(join(REFERENCE, 'model', 'model.json'));
    const model = asModel(layers);
    const x = tf.tensor4d(imageOf('rand0'));
    const options = { target: 4, slidingWindowShapes: [5, 5, 3] as [number, number, number], strides: 2 };
    const run = async (tau?: number) => {
      const map = await new Occlusion(model).attribute(x, { ...options, scorer: incrementalScorer(layers, tau ? { approximate: { tau } } : {}) });
      const values = map.dataSync() as Float32Array;
      map.dispose();
      return values;
    };
    const exact = await run();
    expect(maxAbsDiff(await run(1), exact)).toBe(0);
    const approximate = await run(0.3);
    const scale = exact.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const relative = maxAbsDiff(approximate, exact) / scale;
    console.log(`fixture tau 0.3: max |Δ| / max |exact| = ${relative.toExponential(2)}`);
    expect(relative).toBeGreaterThan(0);
    expect(relative).toBeLessThan(1);
    expect(() => incrementalScorer(layers, { approximate: { tau: 0 } })).toThrow(RangeError);
    x.dispose();
    layers.dispose();
  });
});
