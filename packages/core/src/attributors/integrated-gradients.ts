import * as tf from '@tensorflow/tfjs-core';
import { ExplainError, throwIfAborted } from '../errors.js';
import { predictScores } from '../model.js';
import { yieldToEventLoop } from '../platform.js';
import { baselineValues, positiveInteger, type AttributeOptions } from './attributor.js';
import { GradientAttribution, inputGradients } from './gradient-attribution.js';

export const INTEGRATION_METHODS = [
  'gausslegendre',
  'riemann_trapezoid',
  'riemann_left',
  'riemann_right',
  'riemann_middle',
] as const;
export type IntegrationMethod = (typeof INTEGRATION_METHODS)[number];

export interface IntegratedGradientsOptions extends AttributeOptions {
  /** Reference input: a number or a tensor broadcastable to the input; default 0. */
  baselines?: number | tf.Tensor;
  /** Integration points; default 50. */
  nSteps?: number;
  /** Captum's approximation method; default 'gausslegendre'. */
  method?: IntegrationMethod;
  /** Scaled inputs per gradient batch (bounds memory; the result does not depend on it). Default from the input size. */
  internalBatchSize?: number;
}

/** Elements (N·H·W·C) of scaled inputs per gradient batch by default: 10 images at 224×224×3. */
export const IG_BATCH_ELEMENTS = 1_600_000;

/** IG's default internal batch (scaled inputs per gradient call) for an input [N,H,W,C] and nSteps. */
export function defaultInternalBatchSize(shape: number[], nSteps: number): number {
  const [n, ...rest] = shape;
  const perImage = rest.reduce((a, b) => a * b, 1);
  return Math.max(1, Math.min(n * nSteps, Math.floor(IG_BATCH_ELEMENTS / perImage)));
}

/** Legendre–Gauss nodes and weights on [-1, 1] (Newton's method on P_n), ascending as numpy's leggauss. */
function legendreGauss(n: number): { nodes: number[]; weights: number[] } {
  if (n === 1) return { nodes: [0], weights: [2] };
  const nodes = new Array<number>(n);
  const weights = new Array<number>(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    let x = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let dp = 0;
    for (let iter = 0; iter < 100; iter++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k];
      dp = (n * (x * p1 - p0)) / (x * x - 1);
      const dx = p1 / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-16) break;
    }
    const w = 2 / ((1 - x * x) * dp * dp);
    nodes[n - 1 - i] = x;
    nodes[i] = -x;
    weights[i] = weights[n - 1 - i] = w;
  }
  return { nodes, weights };
}

const linspace = (start: number, end: number, n: number) =>
  Array.from({ length: n }, (_, i) => (n === 1 ? start : start + ((end - start) * i) / (n - 1)));

/** Captum's alphas and step sizes (approximation_methods.py), including the trapezoid's (n−1)/n total weight. */
export function approximationParameters(method: IntegrationMethod, n: number): { alphas: number[]; stepSizes: number[] } {
  if (method === 'gausslegendre') {
    const { nodes, weights } = legendreGauss(n);
    return { alphas: nodes.map((x) => 0.5 * (1 + x)), stepSizes: weights.map((w) => 0.5 * w) };
  }
  if (n < 2) throw new ExplainError('invalid_option', `Riemann methods need nSteps ≥ 2 (Captum asserts n > 1); got ${n}.`);
  const stepSizes = new Array<number>(n).fill(1 / n);
  switch (method) {
    case 'riemann_trapezoid':
      stepSizes[0] /= 2;
      stepSizes[n - 1] /= 2;
      return { alphas: linspace(0, 1, n), stepSizes };
    case 'riemann_left':
      return { alphas: linspace(0, 1 - 1 / n, n), stepSizes };
    case 'riemann_right':
      return { alphas: linspace(1 / n, 1, n), stepSizes };
    case 'riemann_middle':
      return { alphas: linspace(1 / (2 * n), 1 - 1 / (2 * n), n), stepSizes };
    default:
      throw new ExplainError('invalid_option', `Unknown integration method "${String(method)}"; use one of: ${INTEGRATION_METHODS.join(', ')}.`);
  }
}

/**
 * Captum's IntegratedGradients: (x − b) · Σ_k w_k ∇f(b + α_k (x − b)). Scaled inputs are ordered step-major as
 * Captum's; the weighted gradients are summed in step order in float64, so internalBatchSize never changes the result.
 */
export class IntegratedGradients extends GradientAttribution<IntegratedGradientsOptions> {
  async attribute(input: tf.Tensor4D, options: IntegratedGradientsOptions): Promise<tf.Tensor4D> {
    return (await this.attributeWithDelta(input, options)).attribution;
  }

  /** The attribution and, per example, Captum's convergence delta Σ attribution − (f(x) − f(baseline)). */
  async attributeWithDelta(
    input: tf.Tensor4D,
    options: IntegratedGradientsOptions,
  ): Promise<{ attribution: tf.Tensor4D; delta: number[] }> {
    const targets = await this.prepare(input, options);
    const nSteps = positiveInteger(options.nSteps, 'nSteps', 50);
    const method = options.method ?? 'gausslegendre';
    if (!INTEGRATION_METHODS.includes(method)) {
      throw new ExplainError('invalid_option', `Unknown integration method "${String(method)}"; use one of: ${INTEGRATION_METHODS.join(', ')}.`);
    }
    const { alphas, stepSizes } = approximationParameters(method, nSteps);
    const batch = positiveInteger(options.internalBatchSize, 'internalBatchSize', defaultInternalBatchSize(input.shape, nSteps));
    const [n, h, w, c] = input.shape;
    const size = h * w * c;
    const base = await baselineValues(options.baselines, input.shape);
    const x = (await input.data()) as Float32Array;
    const total = n * nSteps;
    const sums = new Float64Array(n * size);
    for (let start = 0; start < total; start += batch) {
      throwIfAborted(options.signal);
      const rows = Math.min(batch, total - start);
      const scaled = new Float32Array(rows * size);
      const rowTargets: number[] = [];
      for (let r = 0; r < rows; r++) {
        const step = Math.floor((start + r) / n);
        const example = (start + r) % n;
        const alpha = Math.fround(alphas[step]);
        const offset = example * size;
        for (let i = 0; i < size; i++) scaled[r * size + i] = base[offset + i] + alpha * (x[offset + i] - base[offset + i]);
        rowTargets.push(targets[example]);
      }
      const points = tf.tensor4d(scaled, [rows, h, w, c]);
      let grads: Float32Array;
      try {
        const g = inputGradients(this.model, points, rowTargets);
        grads = (await g.data()) as Float32Array;
        g.dispose();
      } finally {
        points.dispose();
      }
      for (let r = 0; r < rows; r++) {
        const step = Math.floor((start + r) / n);
        const weight = Math.fround(stepSizes[step]);
        const offset = ((start + r) % n) * size;
        for (let i = 0; i < size; i++) sums[offset + i] += weight * grads[r * size + i];
      }
      options.onProgress?.(start + rows, total);
      await yieldToEventLoop();
    }
    const values = new Float32Array(n * size);
    for (let i = 0; i < n * size; i++) values[i] = (x[i] - base[i]) * sums[i];
    const delta = await this.convergenceDelta(x, base, values, input.shape, targets);
    return { attribution: tf.tensor4d(values, input.shape), delta };
  }

  private async convergenceDelta(
    x: Float32Array,
    base: Float32Array,
    attribution: Float32Array,
    shape: [number, number, number, number],
    targets: number[],
  ): Promise<number[]> {
    const [n, h, w, c] = shape;
    const size = h * w * c;
    const points = new Float32Array(2 * n * size);
    points.set(x);
    points.set(base, n * size);
    const both = tf.tensor4d(points, [2 * n, h, w, c]);
    const scores = predictScores(this.model, both);
    both.dispose();
    const s = (await scores.data()) as Float32Array;
    const classes = scores.shape[1];
    scores.dispose();
    return targets.map((t, e) => {
      let sum = 0;
      for (let i = 0; i < size; i++) sum += attribution[e * size + i];
      return sum - (s[e * classes + t] - s[(n + e) * classes + t]);
    });
  }
}
