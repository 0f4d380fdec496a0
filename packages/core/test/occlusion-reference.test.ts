// Parity with Captum 0.8.0's Occlusion on the reference fixture (../shared/reference/occlusion.json).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { asModel, Occlusion, type Model } from '@easy-explain/core/internal';
import { join } from 'node:path';
import { REFERENCE, loadLayersModel, maxAbsDiff, readJson, useBackend } from './helpers';

const occlusion = readJson(join(REFERENCE, 'occlusion.json'));
const inputs = readJson(join(REFERENCE, 'inputs.json'));
const imageOf = (name: string) => inputs.inputs.find((i: any) => i.name === name).image;

for (const backend of ['cpu', 'wasm'] as const) {
  for (const file of ['model.json', 'model_fused_relu.json']) {
    describe(`Occlusion vs Captum on ${backend}, ${file}`, () => {
      let layers: Awaited<ReturnType<typeof loadLayersModel>>;
      let model: Model;
      beforeAll(async () => {
        await useBackend(backend);
        layers = await loadLayersModel(join(REFERENCE, 'model', file));
        model = asModel(layers);
      });
      afterAll(() => layers.dispose());

      it('reproduces the fixture logits', () => {
        const x = tf.tensor4d(imageOf('rand0'));
        const logits = model.predict(x);
        expect(maxAbsDiff(logits.dataSync(), inputs.inputs.find((i: any) => i.name === 'rand0').logits.flat())).toBeLessThan(1e-5);
        tf.dispose([x, logits]);
        expect(model.outputKind).toBe('logits');
      });

      for (const c of occlusion.cases) {
        it(`${c.id} (perturbationsPerEval 1, 7, 64 agree)`, async () => {
          const { sliding_window_shapes, strides, baselines } = c.params.nhwc_equivalent;
          const before = tf.memory().numTensors;
          const x = tf.tensor4d(imageOf(c.input));
          const expected = (c.attribution as number[][][][]).flat(3);
          const atol = 1e-4 * Math.max(c.max_abs, 1e-6);
          let worst = 0;
          const results: Float32Array[] = [];
          for (const perturbationsPerEval of [1, 7, 64]) {
            const progress: number[] = [];
            const attribution = await new Occlusion(model).attribute(x, {
              target: c.target,
              slidingWindowShapes: sliding_window_shapes,
              strides,
              baselines,
              perturbationsPerEval,
              onProgress: (done, total) => progress.push(done / total),
            });
            expect(attribution.shape).toEqual(c.shape);
            const values = attribution.dataSync() as Float32Array;
            attribution.dispose();
            worst = Math.max(worst, maxAbsDiff(values, expected));
            expect(maxAbsDiff(values, expected)).toBeLessThan(atol);
            const windows = c.params.forward_evals - 1;
            expect(progress.length).toBe(Math.ceil(windows / perturbationsPerEval));
            expect(progress.at(-1)).toBe(1);
            results.push(values);
          }
          expect(maxAbsDiff(results[0], results[1])).toBeLessThan(1e-6);
          expect(maxAbsDiff(results[0], results[2])).toBeLessThan(1e-6);
          x.dispose();
          expect(tf.memory().numTensors).toBe(before);
          console.log(`${backend} ${file} ${c.id}: max |Δ| ${worst.toExponential(2)} (atol ${atol.toExponential(2)})`);
        });
      }
    });
  }
}
