import * as tf from '@tensorflow/tfjs-core';
import { ExplainError, throwIfAborted } from '../../errors.js';
import { yieldToEventLoop } from '../../platform.js';
import { positiveInteger } from '../attributor.js';
import { TorchcamMethod, type TorchcamOptions, type WeightedLayer } from './torchcam-base.js';

export interface SmoothGradCamPPOptions extends TorchcamOptions {
  /** Noisy copies of the input; default 4 (torchcam's num_samples). */
  numSamples?: number;
  /** Standard deviation of the Gaussian noise added to the input; default 0.3 (torchcam's std). */
  std?: number;
  /**
   * The noise itself, [numSamples·N, H, W, C], sample-major (row s·N + n is added to example n in sample s):
   * replaces the random draw (tests use torchcam's stored draw). Overrides `std` and `seed`.
   */
  noise?: tf.Tensor4D;
  /** Seed of the noise (sample s uses seed + s), so runs repeat; default 0. */
  seed?: number;
}

/**
 * torchcam 0.4.0's SmoothGradCAMpp, as it computes. For each of S noisy inputs x + ε_s, the layer's gradients g_s
 * are taken; with ḡ² = mean_s g_s², ḡ³ = mean_s g_s³ and A the clean input's activations,
 * α = ḡ² / (2ḡ² + Σ_hw ḡ³·A + 1e-8) and w_k = Σ_hw α · ReLU(g_S) — torchcam multiplies by the last sample's
 * gradients, and its forward hook leaves the last sample's activations A_S as those the weights combine:
 * map = normalise(ReLU(Σ_k w_k A_S,k)).
 */
export class SmoothGradCamPP extends TorchcamMethod<SmoothGradCamPPOptions> {
  protected async weightedLayer(input: tf.Tensor4D, targets: number[], options: SmoothGradCamPPOptions): Promise<WeightedLayer> {
    const samples = positiveInteger(options.numSamples, 'numSamples', 4);
    const std = options.std ?? 0.3;
    if (!Number.isFinite(std) || std < 0) throw new ExplainError('invalid_option', `std must be a non-negative number; got ${std}.`);
    const [n, height, width, channels] = input.shape;
    if (options.noise !== undefined) {
      const expected = [samples * n, height, width, channels];
      if (!(options.noise instanceof tf.Tensor) || options.noise.shape.join() !== expected.join()) {
        throw new ExplainError('invalid_option', `noise must be a tensor of shape [${expected}] (sample-major).`);
      }
    }
    const seed = options.seed ?? 0;
    const clean = this.activations(input);
    let g2: tf.Tensor4D | undefined;
    let g3: tf.Tensor4D | undefined;
    let last: { activations: tf.Tensor4D; gradients: tf.Tensor4D } | undefined;
    try {
      for (let s = 0; s < samples; s++) {
        throwIfAborted(options.signal);
        const noisy = tf.tidy(() => {
          const noise = options.noise
            ? tf.slice(options.noise, [s * n, 0, 0, 0], [n, -1, -1, -1])
            : tf.randomNormal(input.shape, 0, std, 'float32', seed + s);
          return tf.add(input, noise) as tf.Tensor4D;
        });
        let state: { activations: tf.Tensor4D; gradients: tf.Tensor4D };
        try {
          state = await this.activationsAndGradients(noisy, targets);
        } finally {
          noisy.dispose();
        }
        const next2 = tf.tidy(() => (g2 ? tf.add(g2, tf.square(state.gradients)) : tf.square(state.gradients))) as tf.Tensor4D;
        const next3 = tf.tidy(() => {
          const cube = tf.mul(tf.square(state.gradients), state.gradients);
          return g3 ? tf.add(g3, cube) : cube;
        }) as tf.Tensor4D;
        tf.dispose([g2, g3, last?.activations, last?.gradients]);
        [g2, g3, last] = [next2, next3, state];
        options.onProgress?.(s + 1, samples);
        await yieldToEventLoop();
      }
      const weights = tf.tidy(() => {
        const mean2 = tf.div(g2!, samples);
        const mean3 = tf.div(g3!, samples);
        const denominator = tf.add(tf.add(tf.mul(mean2, 2), tf.sum(tf.mul(mean3, clean), [1, 2], true)), 1e-8);
        return tf.sum(tf.mul(tf.div(mean2, denominator), tf.relu(last!.gradients)), [1, 2], true);
      }) as tf.Tensor4D;
      const activations = last!.activations;
      last!.gradients.dispose();
      last = undefined;
      return { weights, activations };
    } finally {
      tf.dispose([clean, g2, g3, last?.activations, last?.gradients]);
    }
  }
}
