import * as tf from '@tensorflow/tfjs-core';
import { ExplainError, throwIfAborted } from '../errors.js';
import type { Model } from '../model.js';
import { yieldToEventLoop } from '../platform.js';
import { positiveInteger } from '../attributors/attributor.js';
import { defaultPerturbationsPerEval } from '../attributors/feature-ablation.js';
import {
  positiveNumber,
  prepareMetric,
  repeatRows,
  disposeOwned,
  drawSeed,
  requireExplain,
  type ExplainFunction,
  type MetricOptions,
  type MetricResult,
} from './metric.js';

/**
 * Captum's sensitivity `perturb_func`: the inputs repeated example-major (row n·k + s is example n) and the radius;
 * returns a new tensor of the same shape, which the metric disposes.
 */
export type SensitivityPerturbFunction = (inputs: tf.Tensor4D, radius: number) => tf.Tensor4D | Promise<tf.Tensor4D>;

export interface SensitivityOptions extends MetricOptions {
  /** Recomputes the explanation on perturbed inputs; called with the metric's model. */
  explain: ExplainFunction;
  /** Default: x + U(−radius, radius) per element (Captum's default_perturb_func), drawn with `seed`. */
  perturb?: SensitivityPerturbFunction;
  /** Default 0.02 (Captum). */
  perturbRadius?: number;
  /** Perturbations per example; default 10 (Captum). */
  nPerturbSamples?: number;
  /** Perturbed inputs per `explain` call (Captum's max_examples_per_batch), rounded down to a multiple of N. */
  batchSize?: number;
  /** Seed of the default perturbation (see uniformPerturbation); default 0. */
  seed?: number;
}

export interface SensitivityResult extends MetricResult {
  metric: 'sensitivity_max';
  /** max over samples of ‖expl(x + δ) − expl(x)‖_F / ‖expl(x)‖_F per example (‖expl(x)‖ = 0 counts as 1, as Captum). */
  values: number[];
}

/**
 * Captum's default_perturb_func as a factory: x + U(−radius, radius) per element (the L∞ ball), each call drawn with
 * the tf.js seed `seed + call index + 1`.
 */
export function uniformPerturbation(seed = 0): SensitivityPerturbFunction {
  drawSeed(seed, 0);
  let call = 0;
  return (inputs, radius) =>
    tf.tidy(() => tf.add(inputs, tf.randomUniform(inputs.shape, -radius, radius, 'float32', drawSeed(seed, call++))) as tf.Tensor4D);
}

/**
 * Captum's `sensitivity_max` (Yeh et al. 2019): the largest relative change of the explanation, in Frobenius norm,
 * over `nPerturbSamples` perturbations of each example. `attribution` is taken as expl(x), the explanation of the
 * unperturbed input (Captum recomputes it; pass what `explain` returns for `input`).
 */
export async function sensitivityMax(
  model: Model,
  input: tf.Tensor4D,
  attribution: tf.Tensor,
  options: SensitivityOptions,
): Promise<SensitivityResult> {
  const targets = prepareMetric(model, input, options, 'sensitivity_max');
  const explain = requireExplain(options.explain, 'sensitivity_max');
  const n = input.shape[0];
  if (!(attribution instanceof tf.Tensor) || attribution.rank < 2 || attribution.shape[0] !== n) {
    const got = attribution instanceof tf.Tensor ? `shape [${attribution.shape}]` : typeof attribution;
    throw new ExplainError('invalid_input', `The attribution must be the explanation of the input, with ${n} rows; got ${got}.`);
  }
  const radius = positiveNumber(options.perturbRadius, 'perturbRadius', 0.02);
  const samples = positiveInteger(options.nPerturbSamples, 'nPerturbSamples', 10);
  const batchSize = positiveInteger(options.batchSize, 'batchSize', n * defaultPerturbationsPerEval(input.shape.slice(1)));
  const perExample = Math.min(samples, Math.max(1, Math.floor(batchSize / n)));
  if (options.perturb !== undefined && typeof options.perturb !== 'function') {
    throw new ExplainError('invalid_option', 'perturb must be a function (inputs, radius) => perturbed inputs.');
  }
  const perturb = options.perturb ?? uniformPerturbation(options.seed ?? 0);

  const norms = tf.tidy(() => tf.sqrt(tf.sum(tf.square(tf.reshape(attribution, [n, -1])), 1)));
  const explanationNorms = Array.from(await norms.data(), (v) => (v === 0 ? 1 : v));
  norms.dispose();
  const values = new Array<number>(n).fill(-Infinity);
  for (let s0 = 0; s0 < samples; s0 += perExample) {
    throwIfAborted(options.signal);
    const k = Math.min(perExample, samples - s0);
    const rowTargets = targets.flatMap((t) => new Array<number>(k).fill(t));
    const expanded = repeatRows(input, k);
    let perturbed: tf.Tensor4D | undefined;
    let changed: tf.Tensor | undefined;
    let distances: tf.Tensor;
    try {
      perturbed = await perturb(expanded, radius);
      if (!(perturbed instanceof tf.Tensor) || perturbed.shape.join() !== expanded.shape.join()) {
        const got = perturbed instanceof tf.Tensor ? `shape [${perturbed.shape}]` : typeof perturbed;
        throw new ExplainError('invalid_option', `perturb must return a tensor of the repeated inputs' shape [${expanded.shape}]; got ${got}.`);
      }
      changed = await explain(model, perturbed, { target: rowTargets });
      const expected = [n * k, ...attribution.shape.slice(1)];
      if (!(changed instanceof tf.Tensor) || changed.shape.join() !== expected.join()) {
        const got = changed instanceof tf.Tensor ? `shape [${changed.shape}]` : typeof changed;
        throw new ExplainError('invalid_option', `explain returned ${got} for ${n * k} inputs; expected [${expected}], the attribution's shape per row.`);
      }
      const explained = changed;
      distances = tf.tidy(() => {
        const difference = tf.sub(repeatRows(attribution, k), explained);
        return tf.sqrt(tf.sum(tf.square(tf.reshape(difference, [n * k, -1])), 1));
      });
    } finally {
      disposeOwned([expanded, perturbed, changed]);
    }
    const d = await distances.data();
    distances.dispose();
    for (let e = 0; e < n; e++) {
      for (let s = 0; s < k; s++) values[e] = Math.max(values[e], d[e * k + s] / explanationNorms[e]);
    }
    options.onProgress?.(s0 + k, samples);
    await yieldToEventLoop();
  }
  return { metric: 'sensitivity_max', values };
}
