import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../errors.js';
import type { Model } from '../model.js';
import { forwardScorerFor, scoreBatches, type ForwardWorkerOptions } from '../attributors/forward-workers.js';
import { positiveInteger } from '../attributors/attributor.js';
import { defaultPerturbationsPerEval } from '../attributors/feature-ablation.js';
import { checkAttribution, mapsPerExample, prepareMetric, type MetricOptions, type MetricResult } from './metric.js';

/** Options of the deletion and insertion metrics. */
export interface CurveOptions extends MetricOptions, ForwardWorkerOptions {
  /**
   * Steps from the start image to the finish image; step i has changed the first ⌊i·H·W/steps⌋ pixels of the ranking.
   * Default H, i.e. one image row's worth of pixels per step: 224 steps of 224 pixels at 224×224, as RISE.
   */
  steps?: number;
  /** Images (curve points) per forward batch; default from the input size (27 at 224×224×3). */
  batchSize?: number;
}

/** One example's curve: the fraction of pixels changed and the target's probability there. */
export interface MetricCurve {
  /** 'deletion' or 'insertion'. */
  metric: 'deletion' | 'insertion';
  /** Fractions of the pixels changed, 0 … 1 (steps + 1 points). */
  x: number[];
  /** The target's probability at each point (softmax of the scores when the model outputs logits). */
  y: number[];
  /** Area under the curve by the trapezoid rule over x ∈ [0,1]. */
  auc: number;
  target: number;
}

export interface CurveResult extends MetricResult {
  metric: 'deletion' | 'insertion';
  /** AUC per example: low is good for deletion, high is good for insertion. */
  values: number[];
  curves: MetricCurve[];
  steps: number;
}

/** RISE's blur for the insertion start image: an 11×11 Gaussian kernel with σ = 5. */
export const RISE_BLUR_SIZE = 11;
export const RISE_BLUR_SIGMA = 5;

/**
 * The 1-D kernel RISE's `gkern` builds: scipy.ndimage.gaussian_filter (truncate 4, mode 'reflect') applied to a delta
 * in the middle of `size` samples. With σ large for the window, the Gaussian's tails fold back in at the edges, so the
 * kernel sums to 1 and is flatter than a cut Gaussian. RISE's 2-D kernel is the outer product of this with itself.
 */
export function riseKernel1d(size: number, sigma: number): Float64Array {
  const radius = Math.floor(4 * sigma + 0.5);
  const weights = new Float64Array(2 * radius + 1);
  let total = 0;
  for (let t = -radius; t <= radius; t++) total += weights[t + radius] = Math.exp((-0.5 * t * t) / (sigma * sigma));
  const centre = Math.floor(size / 2);
  // Half-sample symmetric reflection (d c b a | a b c d | d c b a), periodic with period 2·size.
  const reflect = (p: number) => {
    const q = ((p % (2 * size)) + 2 * size) % (2 * size);
    return q < size ? q : 2 * size - 1 - q;
  };
  const kernel = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    for (let t = -radius; t <= radius; t++) if (reflect(i + t) === centre) kernel[i] += weights[t + radius] / total;
  }
  return kernel;
}

/**
 * RISE's insertion substrate: each channel convolved with the 11×11 kernel, zero padding of 5 (torch's
 * conv2d(x, kern, padding=klen//2)), so the image darkens towards 0 at its border.
 */
export function riseBlur(images: tf.Tensor4D, size = RISE_BLUR_SIZE, sigma = RISE_BLUR_SIGMA): tf.Tensor4D {
  const k = riseKernel1d(size, sigma);
  const channels = images.shape[3];
  const filter = new Float32Array(size * size * channels);
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) filter.fill(k[r] * k[c], (r * size + c) * channels, (r * size + c + 1) * channels);
  }
  return tf.tidy(() => {
    const padded = tf.pad(images, [[0, 0], [size >> 1, size >> 1], [size >> 1, size >> 1], [0, 0]]);
    return tf.depthwiseConv2d(padded, tf.tensor4d(filter, [size, size, channels, 1]), 1, 'valid');
  });
}

/**
 * Pixel indices (row-major) from the most to the least important: sorted by the attribution summed over channels,
 * largest first; ties go to the pixel that comes first in row-major order (top row first, left to right), and NaN
 * ranks last. (RISE takes numpy's argsort, whose order among ties is unspecified.)
 */
export function pixelOrder(map: Float32Array): Int32Array {
  const key = (i: number) => (Number.isNaN(map[i]) ? -Infinity : map[i]);
  return Int32Array.from(Array.from({ length: map.length }, (_, i) => i).sort((i, j) => key(j) - key(i) || i - j));
}

/** Trapezoid-rule area under (x, y); with x evenly spaced over [0,1] it is RISE's `auc`. */
export function trapezoidAuc(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2;
  return area;
}

/** Example e's start and finish images as host arrays: (input, zeros) for deletion, (blurred input, input) for insertion. */
async function substrates(mode: 'deletion' | 'insertion', input: tf.Tensor4D, e: number): Promise<[Float32Array, Float32Array]> {
  const [, h, w, c] = input.shape;
  const image = tf.slice(input, [e, 0, 0, 0], [1, h, w, c]);
  try {
    const values = (await image.data()) as Float32Array;
    if (mode === 'deletion') return [values, new Float32Array(values.length)];
    const blurred = riseBlur(image);
    try {
      return [(await blurred.data()) as Float32Array, values];
    } finally {
      blurred.dispose();
    }
  } finally {
    image.dispose();
  }
}

/**
 * RISE's causal metrics (Petsiuk et al. 2018): pixels, most important first, are moved from a start image to a finish
 * image in `steps` steps, and the target's probability is recorded after each.
 * deletion: start = the input, finish = zeros (in the model's input space, as RISE's torch.zeros_like substrate);
 * insertion: start = the input blurred as RISE, finish = the input. A pixel moves with all its channels.
 */
export async function causalCurve(
  mode: 'deletion' | 'insertion',
  model: Model,
  input: tf.Tensor4D,
  attribution: tf.Tensor,
  options: CurveOptions,
): Promise<CurveResult> {
  const targets = prepareMetric(model, input, options, mode);
  checkAttribution(attribution, input, true);
  const [n, h, w, c] = input.shape;
  const pixels = h * w;
  const steps = positiveInteger(options.steps, 'steps', h);
  if (steps > pixels) {
    throw new ExplainError('invalid_option', `steps must be at most the number of pixels, ${pixels}; got ${steps}.`);
  }
  const batchSize = positiveInteger(options.batchSize, 'batchSize', defaultPerturbationsPerEval([1, h, w, c]));
  const counts = Array.from({ length: steps + 1 }, (_, i) => Math.floor((i * pixels) / steps));
  const x = counts.map((k) => k / pixels);
  const maps = await mapsPerExample(attribution);
  const total = n * (steps + 1);
  const curves: MetricCurve[] = [];

  const forward = forwardScorerFor(model, options, mode);
  const softmax = model.outputKind === 'logits';
  const batchesPerCurve = Math.ceil((steps + 1) / batchSize);
  let done = 0;
  for (let e = 0; e < n; e++) {
    const order = pixelOrder(maps[e]);
    // The images are built on the host: copying pixels is exact and far cheaper than a broadcast select on wasm.
    const [start, finish] = await substrates(mode, input, e);
    const current = start.slice();
    let moved = 0;
    const y = new Array<number>(steps + 1);
    await scoreBatches(
      forward,
      batchesPerCurve,
      (b) => {
        const i0 = b * batchSize;
        const rows = Math.min(batchSize, steps + 1 - i0);
        const batch = new Float32Array(rows * pixels * c);
        for (let r = 0; r < rows; r++) {
          for (; moved < counts[i0 + r]; moved++) {
            const at = order[moved] * c;
            current.set(finish.subarray(at, at + c), at);
          }
          batch.set(current, r * pixels * c);
        }
        return { type: 'forward', images: batch, shape: [rows, h, w, c], targets: new Array<number>(rows).fill(targets[e]), softmax };
      },
      (b, values) => {
        values.forEach((v, r) => (y[b * batchSize + r] = v));
        done += values.length;
        options.onProgress?.(done, total);
      },
      options.signal,
    );
    curves.push({ metric: mode, x: x.slice(), y, auc: trapezoidAuc(x, y), target: targets[e] });
  }
  return { metric: mode, values: curves.map((curve) => curve.auc), curves, steps };
}
