import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../errors.js';
import type { Model } from '../model.js';
import { forwardScorerFor, scoreBatches, type ForwardWorkerOptions } from '../attributors/forward-workers.js';
import { positiveInteger } from '../attributors/attributor.js';
import { defaultPerturbationsPerEval } from '../attributors/feature-ablation.js';
import { checkAttribution, prepareMetric, repeatRows, disposeOwned, drawSeed, type MetricOptions, type MetricResult } from './metric.js';

/** A perturbation I and the perturbed input x − I (or any x̃ for which I is the meaningful perturbation). */
export interface Perturbation {
  perturbation: tf.Tensor4D;
  perturbed: tf.Tensor4D;
}

/**
 * Captum's infidelity `perturb_func`: given the inputs repeated example-major (row n·k + s is example n), returns new
 * tensors of that shape, which the metric disposes.
 */
export type InfidelityPerturbFunction = (inputs: tf.Tensor4D) => Perturbation | Promise<Perturbation>;

export interface InfidelityOptions extends MetricOptions, ForwardWorkerOptions {
  /** Default: `gaussianPerturbation({ stdev: 0.003, seed })`, the noise of Captum's infidelity docstring example. */
  perturb?: InfidelityPerturbFunction;
  /** Perturbations per example; default 10 (Captum). */
  nPerturbSamples?: number;
  /**
   * Perturbed inputs per forward batch (Captum's max_examples_per_batch): rounded down to a multiple of the batch
   * size N, at least N. Default from the input size.
   */
  batchSize?: number;
  /** Scale the attribution term by the best β (Captum's `normalize`), so a rescaled attribution scores the same. */
  normalize?: boolean;
  /** Seed of the default perturbation; default 0. */
  seed?: number;
}

export interface InfidelityResult extends MetricResult {
  metric: 'infidelity';
  /** Infidelity per example, E[(Iᵀφ − (f(x) − f(x − I)))²] (lower is better). */
  values: number[];
  /** With `normalize`, the β per example that scaled the attribution; 1 without. */
  beta: number[];
}

/**
 * A perturbation function drawing I ~ N(0, stdev²) per element and returning (I, x − I). Each call draws with the
 * tf.js seed `seed + call index + 1` (seed default 0), so a run repeats with the same seed and batch size.
 */
export function gaussianPerturbation(options: { stdev: number; seed?: number }): InfidelityPerturbFunction {
  const stdev = options.stdev;
  if (!Number.isFinite(stdev) || stdev < 0) throw new ExplainError('invalid_option', `stdev must be a finite number ≥ 0; got ${stdev}.`);
  drawSeed(options.seed, 0);
  let call = 0;
  return (inputs) => {
    const perturbation = tf.randomNormal(inputs.shape, 0, stdev, 'float32', drawSeed(options.seed, call++)) as tf.Tensor4D;
    return { perturbation, perturbed: tf.sub(inputs, perturbation) };
  };
}

/**
 * Captum's `infidelity_perturb_func_decorator`: turns a function returning only perturbed inputs x̃ into a perturbation
 * function, with I = x − x̃, or with `multiplyByInputs` (Captum's default) I = (x − x̃) / (x − baselines) — divided
 * by x itself when no baselines are given — where a zero denominator counts as 1 (Captum's safe_div). Use
 * multiplyByInputs for global attributions (input × gradient, Integrated Gradients, Occlusion), false for local ones
 * (Saliency, Guided Backprop, Grad-CAM).
 */
export function fromPerturbedInputs(
  perturbInputs: (inputs: tf.Tensor4D) => tf.Tensor4D | Promise<tf.Tensor4D>,
  options: { multiplyByInputs?: boolean; baselines?: number } = {},
): InfidelityPerturbFunction {
  const multiplyByInputs = options.multiplyByInputs ?? true;
  const baseline = options.baselines;
  if (baseline !== undefined && !Number.isFinite(baseline)) {
    throw new ExplainError('invalid_baseline', `baselines must be a finite number; got ${baseline}.`);
  }
  return async (inputs) => {
    const perturbed = await perturbInputs(inputs);
    if (!(perturbed instanceof tf.Tensor)) {
      throw new ExplainError('invalid_option', 'The function given to fromPerturbedInputs must return a tensor of the inputs\' shape.');
    }
    const perturbation = tf.tidy(() => {
      const change = tf.sub(inputs, perturbed);
      if (!multiplyByInputs) return change;
      const denominator = baseline === undefined ? inputs : tf.sub(inputs, baseline);
      return tf.div(change, tf.where(tf.equal(denominator, 0), tf.onesLike(denominator), denominator));
    }) as tf.Tensor4D;
    return { perturbation, perturbed };
  };
}

/**
 * Captum's `infidelity` (Yeh et al. 2019) for a [N,H,W,C] input and an attribution of its shape: for perturbations
 * I_s of each example (s = 1 … nPerturbSamples),
 *   a_s = Σ attribution · I_s,  b_s = f(x)[t] − f(x̃_s)[t]   (f: the model's own scores, as Captum's forward_func)
 *   infidelity = Σ_s (a_s − b_s)² / n,
 * or, with `normalize`, β = Σ a_s b_s / Σ a_s² (β = Σ a_s b_s when Σ a_s² = 0, as Captum's safe_div) and
 *   infidelity = (β² Σ a_s² − 2β Σ a_s b_s + Σ b_s²) / n.
 * a_s and b_s are computed in float32 (the perturbed inputs scored where `workers` says); the sums over samples in float64.
 */
export async function infidelity(
  model: Model,
  input: tf.Tensor4D,
  attribution: tf.Tensor,
  options: InfidelityOptions,
): Promise<InfidelityResult> {
  const targets = prepareMetric(model, input, options, 'infidelity');
  checkAttribution(attribution, input);
  const samples = positiveInteger(options.nPerturbSamples, 'nPerturbSamples', 10);
  const [n, h, w, c] = input.shape;
  const batchSize = positiveInteger(options.batchSize, 'batchSize', n * defaultPerturbationsPerEval([1, h, w, c]));
  const perExample = Math.min(samples, Math.max(1, Math.floor(batchSize / n)));
  if (options.perturb !== undefined && typeof options.perturb !== 'function') {
    throw new ExplainError('invalid_option', 'perturb must be a function from the repeated inputs to { perturbation, perturbed }.');
  }
  const perturb = options.perturb ?? gaussianPerturbation({ stdev: 0.003, seed: options.seed ?? 0 });

  const sumAA = new Float64Array(n);
  const sumAB = new Float64Array(n);
  const sumBB = new Float64Array(n);
  const sumSquaredError = new Float64Array(n);
  // The perturbed inputs are scored where `workers` says; f(x) is scored there too, so b compares one engine's outputs.
  const forward = forwardScorerFor(model, options, 'infidelity');
  const original = await forward.run({ type: 'forward', images: (await input.data()) as Float32Array, shape: [n, h, w, c], targets });
  const batches = Array.from({ length: Math.ceil(samples / perExample) }, (_, i) => Math.min(perExample, samples - i * perExample));
  const attributionTerms: Float32Array[] = [];
  let done = 0;
  await scoreBatches(
    forward,
    batches.length,
    async (i) => {
      const k = batches[i];
      const expanded = repeatRows(input, k);
      let result: Perturbation | undefined;
      try {
        // perturb runs here, in batch order, so a seeded perturbation draws what one thread draws.
        result = await perturb(expanded);
        checkPerturbation(result, expanded.shape);
        const { perturbation, perturbed } = result;
        const a = tf.tidy(() => tf.sum(tf.mul(repeatRows(attribution, k), perturbation), [1, 2, 3]));
        attributionTerms[i] = (await a.data()) as Float32Array;
        a.dispose();
        const images = (await perturbed.data()) as Float32Array;
        return { type: 'forward', images, shape: [n * k, h, w, c], targets: targets.flatMap((t) => new Array<number>(k).fill(t)) };
      } finally {
        disposeOwned([expanded, result?.perturbation, result?.perturbed]);
      }
    },
    (i, scores) => {
      const k = batches[i];
      const a = attributionTerms[i];
      for (let e = 0; e < n; e++) {
        for (let s = 0; s < k; s++) {
          const ai = a[e * k + s];
          const bi = Math.fround(original[e] - scores[e * k + s]); // float32, as the backend's subtraction
          sumAA[e] += ai * ai;
          sumAB[e] += ai * bi;
          sumBB[e] += bi * bi;
          sumSquaredError[e] += (ai - bi) * (ai - bi);
        }
      }
      done += k;
      options.onProgress?.(done, samples);
    },
    options.signal,
  );
  const normalize = options.normalize === true;
  const beta = Array.from(sumAA, (aa, e) => (normalize ? sumAB[e] / (aa === 0 ? 1 : aa) : 1));
  const values = Array.from(sumAA, (aa, e) =>
    normalize ? (beta[e] * beta[e] * aa - 2 * beta[e] * sumAB[e] + sumBB[e]) / samples : sumSquaredError[e] / samples,
  );
  return { metric: 'infidelity', values, beta };
}

function checkPerturbation(result: Perturbation | undefined, shape: number[]): void {
  for (const key of ['perturbation', 'perturbed'] as const) {
    const t = result?.[key];
    if (!(t instanceof tf.Tensor) || t.shape.join() !== shape.join()) {
      const got = t instanceof tf.Tensor ? `shape [${t.shape}]` : typeof t;
      throw new ExplainError(
        'invalid_option',
        `perturb must return { perturbation, perturbed }, each of the repeated inputs' shape [${shape}]; ${key} is ${got}.`,
      );
    }
  }
}

