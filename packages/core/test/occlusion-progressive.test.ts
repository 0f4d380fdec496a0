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
        partialIntervalMs: 0,
        onPartial: (map, done, total) => partials.push({ map, done, total }),
      });
      const total = partials[0].total;
      expect(total).toBe(Math.pow(Math.ceil((32 - window) / stride) + 1, 2));
      // The first report is the coarse grid: at most 1/40 of the windows (never fewer than the corners), and
      // already a map with content.
      expect(partials[0].done).toBeGreaterThan(1);
      expect(partials[0].done).toBeLessThanOrEqual(Math.max(4, total / 40));
      expect(partials[0].map.some((v) => v !== 0)).toBe(true);
      // After it, with partialIntervalMs 0, one report per batch.
      expect(partials.length).toBe(total - partials[0].done + 1);
      expect(Array.from(progressive.dataSync())).toEqual(Array.from(plain.dataSync()));
      expect(Array.from(partials.at(-1)!.map)).toEqual(Array.from(plain.dataSync()));
      tf.dispose([plain, progressive]);
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    });
  }

  it('later previews: the windows done so far where they have been, the first map elsewhere; at most one per partialIntervalMs', async () => {
    // f = the mean of channel 0, so a window's score drop is known: the sum of its channel-0 values / (H·W).
    const channelMeans = asModel((images: tf.Tensor4D) => tf.tidy(() => tf.mean(images, [1, 2]) as tf.Tensor2D));
    const [h, w, size, stride] = [64, 64, 16, 8];
    const x = tf.randomUniform([1, h, w, 3], 0.1, 1) as tf.Tensor4D;
    const pixels = x.dataSync();
    const before = tf.memory().numTensors;
    const options = { target: 0, slidingWindowShapes: [size, size, 3] as [number, number, number], strides: [stride, stride, 3] as [number, number, number], perturbationsPerEval: 1, progressive: true };
    const occlusion = new Occlusion(channelMeans);
    type Hidden = { regions(shape: number[], o: object): Array<{ start: number[]; end: number[] }>; coarseRegions(r: unknown[], shape: number[], o: object): number[] };
    const regions = (occlusion as unknown as Hidden).regions([1, h, w, 3], options);
    const coarse = (occlusion as unknown as Hidden).coarseRegions(regions, [1, h, w, 3], options);
    const order = [...coarse, ...regions.map((_, i) => i).filter((i) => !coarse.includes(i))];
    const drop = regions.map(({ start, end }) => {
      let sum = 0;
      for (let y = start[0]; y < end[0]; y++) for (let xx = start[1]; xx < end[1]; xx++) sum += pixels[(y * w + xx) * 3];
      return sum / (h * w);
    });
    const maxDrop = Math.max(...drop);

    const partials: Array<{ map: Float32Array; done: number }> = [];
    const map = await occlusion.attribute(x, { ...options, partialIntervalMs: 0, onPartial: (m, done) => partials.push({ map: m, done }) });
    expect(partials.map((p) => p.done)).toEqual([coarse.length, ...order.slice(coarse.length).map((_, k) => coarse.length + k + 1)]);
    for (const { map: preview, done } of partials.slice(1)) {
      const sums = new Float64Array(h * w);
      const counts = new Uint32Array(h * w);
      for (const r of order.slice(0, done)) {
        const { start, end } = regions[r];
        for (let y = start[0]; y < end[0]; y++) for (let xx = start[1]; xx < end[1]; xx++) (sums[y * w + xx] += drop[r]), counts[y * w + xx]++;
      }
      for (let p = 0; p < h * w; p++) {
        for (let c = 0; c < 3; c++) {
          const expected = counts[p] ? sums[p] / counts[p] : partials[0].map[p * 3 + c];
          // float32 means against float64 sums here: ~1e-7 apart; a value borrowed from elsewhere is ~1e-3 off.
          expect(Math.abs(preview[p * 3 + c] - expected)).toBeLessThanOrEqual(1e-4 * maxDrop);
        }
      }
    }

    // A long interval: the coarse map and the final one only, the final equal to the map returned.
    const sparse: number[] = [];
    const last: Float32Array[] = [];
    const again = await occlusion.attribute(x, { ...options, partialIntervalMs: 1e9, onPartial: (m, done) => (sparse.push(done), last.push(m)) });
    expect(sparse).toEqual([coarse.length, regions.length]);
    expect(Array.from(last[1])).toEqual(Array.from(again.dataSync()));
    expect(Array.from(again.dataSync())).toEqual(Array.from(map.dataSync()));
    await expect(occlusion.attribute(x, { ...options, partialIntervalMs: -1, onPartial: () => {} })).rejects.toMatchObject({ code: 'invalid_option' });
    tf.dispose([map, again]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
  it("runs one after another and at once each get their own previews and map (a finished run's arrays are reused)", async () => {
    // f = Σ x·W over the image: every window drops the score by its own Σ x·W, so two images' maps differ everywhere.
    const weights = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 7);
    const weighted = asModel((images: tf.Tensor4D) => tf.tidy(() => tf.reshape(tf.sum(tf.mul(images, weights), [1, 2, 3]), [-1, 1]) as tf.Tensor2D));
    const images = [1, 2].map((seed) => tf.randomUniform([1, 32, 32, 3], 0.1, 1, 'float32', seed) as tf.Tensor4D);
    const before = tf.memory().numTensors;
    const options = { target: 0, slidingWindowShapes: [8, 8, 3] as [number, number, number], strides: [4, 4, 3] as [number, number, number], perturbationsPerEval: 5 };
    const occlusion = new Occlusion(weighted);
    const plain = await Promise.all(images.map(async (x) => {
      const map = await occlusion.attribute(x, options);
      const values = Array.from(map.dataSync());
      map.dispose();
      return values;
    }));
    expect(Math.max(...plain[0].map((v, i) => Math.abs(v - plain[1][i])))).toBeGreaterThan(0.01);
    const progressive = async (x: tf.Tensor4D) => {
      const previews: number[][] = [];
      const map = await occlusion.attribute(x, { ...options, progressive: true, partialIntervalMs: 0, onPartial: (m) => previews.push(Array.from(m)) });
      const values = Array.from(map.dataSync());
      map.dispose();
      return { previews, values };
    };
    const oneByOne = [await progressive(images[0]), await progressive(images[1])];
    const atOnce = await Promise.all(images.map(progressive));
    for (const runs of [oneByOne, atOnce]) {
      runs.forEach(({ previews, values }, i) => {
        expect(values).toEqual(plain[i]);
        // The last preview is the final map, summed in evaluation order: float32 means of the same windows.
        expect(Math.max(...previews[previews.length - 1].map((v, k) => Math.abs(v - plain[i][k])))).toBeLessThan(1e-5);
        expect(previews[0]).toEqual(oneByOne[i].previews[0]);
      });
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...images, weights]);
  });
});
