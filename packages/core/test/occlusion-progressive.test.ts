// Progressive occlusion: a coarse map within 1/40 of the windows, then the exact map, identical to a plain run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { asModel, Occlusion, type Model } from '@easy-explain/core/internal';
import { join } from 'node:path';
import { REFERENCE, loadLayersModel, readJson, useBackend } from './helpers';

const inputs = readJson(join(REFERENCE, 'inputs.json'));

describe('progressive Occlusion (wasm, reference fixture)', () => {
  let layers: Awaited<ReturnType<typeof loadLayersModel>>;
  let model: Model;
  beforeAll(async () => {
    await useBackend('wasm');
    layers = await loadLayersModel(join(REFERENCE, 'model', 'model.json'));
    model = asModel(layers);
  });
  afterAll(() => layers.dispose());

  it("easy-explain's setting on 224×224: the coarse grid is 3×3 of the 21×21 windows, at positions 0, 10, 20", async () => {
    const channelMeans = asModel((images: tf.Tensor4D) => tf.tidy(() => tf.mean(images, [1, 2]) as tf.Tensor2D));
    const x = tf.randomUniform([1, 224, 224, 3], 0.1, 1) as tf.Tensor4D;
    let first: { map: Float32Array; done: number } | undefined;
    const attribution = await new Occlusion(channelMeans).attribute(x, {
      target: 0,
      slidingWindowShapes: [45, 45, 3],
      strides: [9, 9, 3],
      perturbationsPerEval: 64,
      progressive: true,
      onPartial: (map, done) => (first ??= { map, done }),
    });
    expect(first!.done).toBe(9);
    // Windows start at 0, 90, 180 px. The bands between them are no window's: the preview shows there the
    // value of the nearest covered pixel (along the row, then the column; ties to the smaller index).
    const covered = (p: number) => [0, 90, 180].some((s) => p >= s && p < s + 45);
    const nearest = (p: number) => {
      for (let d = 0; ; d++) {
        if (p - d >= 0 && covered(p - d)) return p - d;
        if (p + d < 224 && covered(p + d)) return p + d;
      }
    };
    let gaps = 0;
    for (let y = 0; y < 224; y++) {
      for (let x = 0; x < 224; x++) {
        const value = first!.map[(y * 224 + x) * 3];
        if (covered(y) && covered(x)) expect(value).toBeGreaterThan(0);
        else {
          gaps++;
          expect(value).toBe(first!.map[(nearest(y) * 224 + nearest(x)) * 3]);
        }
      }
    }
    const coveredPerAxis = Array.from({ length: 224 }, (_, p) => p).filter(covered).length;
    expect(coveredPerAxis).toBe(134);
    expect(gaps).toBe(224 * 224 - 134 * 134);
    // The final map is Captum's: every pixel is some window's here, so no value was borrowed.
    tf.dispose([x, attribution]);
  });

  for (const [window, stride] of [[8, 4], [5, 3], [6, 2]]) {
    it(`window ${window}, stride ${stride}: first map after ≤ 1/40 of the windows (or the 4 corners), final map identical`, async () => {
      const x = tf.tensor4d(inputs.inputs[0].image);
      const before = tf.memory().numTensors;
      const options = { target: 4, slidingWindowShapes: [window, window, 3] as [number, number, number], strides: [stride, stride, 3] as [number, number, number], perturbationsPerEval: 1 };
      const plain = await new Occlusion(model).attribute(x, options);
      const partials: Array<{ map: Float32Array; done: number; total: number }> = [];
      const progressive = await new Occlusion(model).attribute(x, {
        ...options,
        progressive: true,
        onPartial: (map, done, total) => partials.push({ map, done, total }),
      });
      const total = partials[0].total;
      expect(total).toBe(Math.pow(Math.ceil((32 - window) / stride) + 1, 2));
      // The first report is the coarse grid: at most 1/40 of the windows (never fewer than the corners), and
      // already a map with content.
      expect(partials[0].done).toBeGreaterThan(1);
      expect(partials[0].done).toBeLessThanOrEqual(Math.max(4, total / 40));
      expect(partials[0].map.some((v) => v !== 0)).toBe(true);
      // After it, one report per batch.
      expect(partials.length).toBe(total - partials[0].done + 1);
      expect(Array.from(progressive.dataSync())).toEqual(Array.from(plain.dataSync()));
      expect(Array.from(partials.at(-1)!.map)).toEqual(Array.from(plain.dataSync()));
      tf.dispose([plain, progressive]);
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });
  }
});
