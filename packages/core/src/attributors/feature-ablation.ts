import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted } from '../errors.js';
import { predictScores, type Model } from '../model.js';
import { yieldToEventLoop } from '../platform.js';
import {
  baselineValues,
  checkImageBatch,
  positiveInteger,
  resolveTargets,
  type AttributeOptions,
  type Attributor,
} from './attributor.js';

/** A box of input elements in [h, w, c] coordinates: `start` inclusive, `end` exclusive. */
export interface Region {
  start: [number, number, number];
  end: [number, number, number];
}

export interface AblationOptions extends AttributeOptions {
  /** Value (or tensor broadcastable to the input) that replaces an ablated region; default 0. */
  baselines?: number | tf.Tensor;
  /** Ablated copies of the input per forward batch; default from `defaultPerturbationsPerEval`. Never changes the result. */
  perturbationsPerEval?: number;
}

/** Memory budget for the ablated copies of one forward batch. Activations scale with it (about 10–20× for CNNs). */
export const PERTURBATION_BATCH_BYTES = 16 * 1024 * 1024;
/** Batches beyond this size stop paying off on CPU-like backends and only cost memory. */
export const MAX_DEFAULT_PERTURBATIONS_PER_EVAL = 64;

/**
 * Copies per forward batch so that one batch of ablated inputs stays within PERTURBATION_BATCH_BYTES:
 * 27 for a 224×224×3 image, 64 (the cap) for small inputs, at least 1.
 */
export function defaultPerturbationsPerEval(inputShape: number[]): number {
  const bytesPerCopy = inputShape.reduce((a, b) => a * b, 1) * 4;
  return Math.max(1, Math.min(MAX_DEFAULT_PERTURBATIONS_PER_EVAL, Math.floor(PERTURBATION_BATCH_BYTES / bytesPerCopy)));
}

/**
 * Shared machinery of perturbation methods (Captum's FeatureAblation): each feature is a region of the input;
 * for every region, the input with that region replaced by the baseline is scored, and
 *   attribution = Σ_regions (f(x) − f(x_ablated))[target] · mask / (number of regions covering the element).
 * Subclasses say which regions there are; the base evaluates them in batches, reports progress and honours abort.
 */
export abstract class AblationAttributor<Options extends AblationOptions> implements Attributor<Options> {
  constructor(protected readonly model: Model) {}

  /** The regions to ablate, for an input of shape [N,H,W,C]. Throws ExplainError on bad options. */
  protected abstract regions(inputShape: [number, number, number, number], options: Options): Region[];

  async attribute(input: tf.Tensor4D, options: Options): Promise<tf.Tensor4D> {
    checkImageBatch(input);
    const shape = input.shape as [number, number, number, number];
    const regions = this.regions(shape, options);
    const perEval = positiveInteger(options.perturbationsPerEval, 'perturbationsPerEval', defaultPerturbationsPerEval(shape));
    throwIfAborted(options.signal);

    const initial = predictScores(this.model, input);
    let initialTarget: Float32Array;
    let targets: number[];
    try {
      targets = resolveTargets(options.target, shape[0], initial.shape[1]);
      initialTarget = await gatherTargets(initial, targets, 1);
    } finally {
      initial.dispose();
    }
    const inputData = (await input.data()) as Float32Array;
    const baseline = await baselineValues(options.baselines, shape);

    const sums = new Float64Array(input.size);
    const counts = new Uint32Array(input.size / shape[0]);
    for (let first = 0; first < regions.length; first += perEval) {
      throwIfAborted(options.signal);
      const chunk = regions.slice(first, first + perEval);
      const batch = ablatedBatch(inputData, baseline, shape, chunk);
      let scores: tf.Tensor2D;
      try {
        scores = predictScores(this.model, batch);
      } finally {
        batch.dispose();
      }
      let ablatedTarget: Float32Array;
      try {
        ablatedTarget = await gatherTargets(scores, targets, chunk.length);
      } finally {
        scores.dispose();
      }
      chunk.forEach((region, j) => {
        const diffs = targets.map((_, n) => initialTarget[n] - ablatedTarget[j * shape[0] + n]);
        accumulate(sums, counts, shape, region, diffs);
      });
      options.onProgress?.(Math.min(first + perEval, regions.length), regions.length);
      await yieldToEventLoop();
    }
    throwIfAborted(options.signal);
    return tf.tensor4d(averaged(sums, counts), shape);
  }
}

/** scores[row, targets[row % N]] for rows = copies × N, downloaded. */
async function gatherTargets(scores: tf.Tensor2D, targets: number[], copies: number): Promise<Float32Array> {
  const [rows, classes] = scores.shape;
  const flatIndices = new Int32Array(rows);
  for (let row = 0; row < rows; row++) flatIndices[row] = row * classes + targets[row % targets.length];
  const picked = tf.tidy(() => tf.gather(tf.reshape(scores, [-1]), tf.tensor1d(flatIndices, 'int32')));
  try {
    const values = (await picked.data()) as Float32Array;
    if (values.length !== copies * targets.length) throw new Error('internal: score rows do not match the batch');
    return values;
  } finally {
    picked.dispose();
  }
}

/** The batch [regions × N, H, W, C]: copy j·N + n is image n with region j replaced by the baseline. */
function ablatedBatch(
  input: Float32Array,
  baseline: Float32Array,
  [n, h, w, c]: [number, number, number, number],
  regions: Region[],
): tf.Tensor4D {
  const imageSize = h * w * c;
  const data = new Float32Array(regions.length * input.length);
  regions.forEach((region, j) => {
    data.set(input, j * input.length);
    for (let image = 0; image < n; image++) {
      const offset = (j * n + image) * imageSize;
      forEachRun(region, h, w, c, (start, length) => {
        const from = image * imageSize + start;
        data.set(baseline.subarray(from, from + length), offset + start);
      });
    }
  });
  return tf.tensor4d(data, [regions.length * n, h, w, c]);
}

/** Calls `run(start, length)` for each contiguous run of a region in an H×W×C image laid out row-major. */
function forEachRun(region: Region, _h: number, w: number, c: number, run: (start: number, length: number) => void): void {
  const [y0, x0, c0] = region.start;
  const [y1, x1, c1] = region.end;
  const wholePixels = c0 === 0 && c1 === c;
  for (let y = y0; y < y1; y++) {
    if (wholePixels) {
      run((y * w + x0) * c, (x1 - x0) * c);
      continue;
    }
    for (let x = x0; x < x1; x++) run((y * w + x) * c + c0, c1 - c0);
  }
}

function accumulate(
  sums: Float64Array,
  counts: Uint32Array,
  [n, h, w, c]: [number, number, number, number],
  region: Region,
  diffs: number[],
): void {
  const imageSize = h * w * c;
  forEachRun(region, h, w, c, (start, length) => {
    for (let i = start; i < start + length; i++) counts[i]++;
    for (let image = 0; image < n; image++) {
      const base = image * imageSize;
      const d = diffs[image];
      for (let i = start; i < start + length; i++) sums[base + i] += d;
    }
  });
}

function averaged(sums: Float64Array, counts: Uint32Array): Float32Array {
  const out = new Float32Array(sums.length);
  for (let i = 0; i < sums.length; i++) out[i] = sums[i] / counts[i % counts.length];
  return out;
}
