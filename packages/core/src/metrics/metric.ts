import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../errors.js';
import type { Model } from '../model.js';
import type { AbortSignalLike } from '../platform.js';
import { checkImageBatch, resolveTargets } from '../attributors/attributor.js';
import { classCount } from '../attributors/gradient-attribution.js';

/** The metrics `runMetric`, `runEasyExplain` and the CLI (`--metrics deletion,insertion`) know, by name. */
export const METRIC_NAMES = ['deletion', 'insertion', 'infidelity', 'sensitivity_max', 'model_randomization'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** Options every metric takes (as the attributors' AttributeOptions). */
export interface MetricOptions {
  /** Class index: one for the whole batch, or one per example. */
  target: number | number[];
  /** Called after each batch of work with how much is done out of the total (units depend on the metric). */
  onProgress?: (done: number, total: number) => void;
  /** Stops the run between batches; the promise then rejects with ExplainError code `aborted`. */
  signal?: AbortSignalLike;
}

/** What every metric returns: its name and its headline number per example (each metric adds its details). */
export interface MetricResult {
  metric: MetricName;
  /** One number per example; what it is (an AUC, an infidelity, …) is documented by each metric. */
  values: number[];
}

/**
 * An explanation to recompute on a perturbed input or a randomised model, e.g.
 * `(model, x, o) => new Saliency(model).attribute(x, o)`. The targets come one per row of `input`.
 * Returns a new tensor that the metric disposes.
 */
export type ExplainFunction = (model: Model, input: tf.Tensor4D, options: { target: number[] }) => Promise<tf.Tensor>;

/** Every metric has this shape, so a table of names can map onto them. */
export type MetricFunction<Options extends MetricOptions = MetricOptions, Result extends MetricResult = MetricResult> = (
  model: Model,
  input: tf.Tensor4D,
  attribution: tf.Tensor,
  options: Options,
) => Promise<Result>;

/** Checks the model, the input batch and the options object; returns one target per example. */
export function prepareMetric(model: Model, input: tf.Tensor4D, options: MetricOptions, metric: MetricName): number[] {
  if (!model || typeof model.predict !== 'function') {
    throw new ExplainError('invalid_model', `${metric} needs a Model; wrap a tf.LayersModel or tf.GraphModel with asModel.`);
  }
  checkImageBatch(input);
  if (!options || typeof options !== 'object') {
    throw new ExplainError('invalid_target', `${metric} needs options with a target, e.g. { target: 3 }.`);
  }
  return resolveTargets(options.target, input.shape[0], classCount(model, input));
}

/**
 * Checks that `attribution` is a tensor of the input's shape; with `perPixel`, [N,H,W,1] (a map already summed over
 * channels) is accepted as well.
 */
export function checkAttribution(attribution: tf.Tensor, input: tf.Tensor4D, perPixel = false): void {
  const [n, h, w, c] = input.shape;
  const ok =
    attribution instanceof tf.Tensor &&
    attribution.rank === 4 &&
    attribution.shape[0] === n &&
    attribution.shape[1] === h &&
    attribution.shape[2] === w &&
    (attribution.shape[3] === c || (perPixel && attribution.shape[3] === 1));
  if (!ok) {
    const got = attribution instanceof tf.Tensor ? `shape [${attribution.shape}]` : typeof attribution;
    const wanted = perPixel ? `[${n},${h},${w},${c}] or [${n},${h},${w},1]` : `[${n},${h},${w},${c}]`;
    throw new ExplainError(
      'invalid_input',
      `The attribution must have the input's shape ${wanted}; got ${got}. Resize layer maps (e.g. Grad-CAM) to the input first.`,
    );
  }
}

/** A positive number option, or its default. */
export function positiveNumber(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ExplainError('invalid_option', `${name} must be a finite number > 0; got ${String(value)}.`);
  }
  return value;
}

/** The function option a metric cannot run without. */
export function requireExplain(explain: ExplainFunction | undefined, metric: MetricName): ExplainFunction {
  if (typeof explain !== 'function') {
    throw new ExplainError(
      'invalid_option',
      `${metric} recomputes the explanation: pass options.explain, e.g. (model, x, o) => new Saliency(model).attribute(x, o).`,
    );
  }
  return explain;
}

/** Rows example-major, each example repeated `times` times (Captum's repeat_interleave on the batch axis). */
export function repeatRows<T extends tf.Tensor>(x: T, times: number): T {
  return tf.tidy(() => {
    const rows: number[] = [];
    for (let e = 0; e < x.shape[0]; e++) for (let s = 0; s < times; s++) rows.push(e);
    return tf.gather(x, tf.tensor1d(rows, 'int32')) as T;
  });
}

/** scores[n, targets[n]] for every row, as a [N] tensor. */
export function pickTargets(scores: tf.Tensor2D, targets: number[]): tf.Tensor1D {
  return tf.tidy(() => {
    const classes = scores.shape[1];
    const flat = targets.map((t, n) => n * classes + t);
    return tf.gather(tf.reshape(scores, [-1]), tf.tensor1d(flat, 'int32')) as tf.Tensor1D;
  });
}

/** The per-example channel sum of a [N,H,W,C] map (other ranks: flattened per example), as host arrays. */
export async function mapsPerExample(map: tf.Tensor): Promise<Float32Array[]> {
  const reduced = tf.tidy(() => (map.rank === 4 ? tf.sum(map, 3) : tf.reshape(map, [map.shape[0], -1])));
  try {
    const values = (await reduced.data()) as Float32Array;
    const n = map.shape[0];
    const per = values.length / n;
    return Array.from({ length: n }, (_, e) => values.slice(e * per, (e + 1) * per));
  } finally {
    reduced.dispose();
  }
}

/**
 * Spearman's rank correlation of two equal-length samples: Pearson's correlation of their ranks, ties given their
 * average rank (as scipy.stats.spearmanr). NaN when either sample is constant.
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new ExplainError('invalid_input', `spearman needs equal lengths; got ${a.length} and ${b.length}.`);
  const ra = averageRanks(a);
  const rb = averageRanks(b);
  const n = a.length;
  const mean = (n + 1) / 2; // the mean of ranks 1..n, with or without ties
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = ra[i] - mean;
    const db = rb[i] - mean;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Ranks 1..n, tied values sharing the mean of the ranks they span. */
function averageRanks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((i, j) => values[i] - values[j]);
  const ranks = new Float64Array(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && values[order[end]] === values[order[start]]) end++;
    const rank = (start + 1 + end) / 2; // mean of start+1 .. end
    for (let k = start; k < end; k++) ranks[order[k]] = rank;
    start = end;
  }
  return ranks;
}

/** Disposes the tensors among `values` (the results of user callbacks may be anything). */
export function disposeOwned(values: unknown[]): void {
  tf.dispose(values.filter((t): t is tf.Tensor => t instanceof tf.Tensor));
}

/**
 * The tf.js seed of a metric's `call`-th random draw: seed + call + 1, since tf.js draws unseeded when given 0.
 * `seed` must be a non-negative integer.
 */
export function drawSeed(seed: number | undefined, call: number): number {
  const base = seed ?? 0;
  if (!Number.isInteger(base) || base < 0) {
    throw new ExplainError('invalid_option', `seed must be a non-negative integer; got ${String(seed)}.`);
  }
  return base + call + 1;
}
