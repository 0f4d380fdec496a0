import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted } from '../../errors.js';
import { predictScores } from '../../model.js';
import { yieldToEventLoop } from '../../platform.js';
import { positiveInteger } from '../attributor.js';
import { pickScores } from './cam-base.js';
import { WeightedActivationsCam, type PytorchCamOptions } from './pytorch-grad-cam-base.js';

export interface AblationCamOptions extends PytorchCamOptions {
  /** Ablated copies of the layer's activations per forward pass of the layers after it; default 32 (the library's). */
  batchSize?: number;
}

const ABLATION_VALUE = 1e7;

/**
 * pytorch-grad-cam's AblationCAM (forward passes only, all channels ablated): w_k = (s − s_k) / s, with s the
 * target's raw output score and s_k the score with channel k of the layer ablated; map = ReLU(Σ_k w_k A_k).
 * Ablation as the library's AblationLayer: the channel is set to 0 when the activations' minimum is 0 (ReLU
 * layers); otherwise the i-th copy of a batch gets (minimum − 1e7·(i+1)), because the library lowers the batch's
 * running minimum by 1e7 with each copy it ablates.
 */
export class AblationCam extends WeightedActivationsCam<AblationCamOptions> {
  protected async weightedActivations(input: tf.Tensor4D, targets: number[], options: AblationCamOptions): Promise<tf.Tensor4D> {
    const batchSize = positiveInteger(options.batchSize, 'batchSize', 32);
    const activations = this.activations(input);
    try {
      const [n, h, w, channels] = activations.shape;
      const original = await pickScores(predictScores(this.model, input), targets);
      const all = (await activations.data()) as Float32Array;
      const size = h * w * channels;
      const weights = new Float32Array(n * channels);
      for (let e = 0; e < n; e++) {
        const example = all.subarray(e * size, (e + 1) * size);
        let minimum = Infinity;
        for (const v of example) minimum = Math.min(minimum, v);
        const image = tf.slice(input, [e, 0, 0, 0], [1, -1, -1, -1]);
        try {
          for (let c0 = 0; c0 < channels; c0 += batchSize) {
            throwIfAborted(options.signal);
            const k = Math.min(batchSize, channels - c0);
            const ablated = new Float32Array(k * size);
            let fill = minimum;
            for (let i = 0; i < k; i++) {
              ablated.set(example, i * size);
              if (minimum !== 0) fill = Math.fround(fill - ABLATION_VALUE);
              const value = minimum === 0 ? 0 : fill;
              for (let p = 0; p < h * w; p++) ablated[i * size + p * channels + c0 + i] = value;
            }
            const scores = await pickScores(this.headScores(image, ablated, [k, h, w, channels]), new Array<number>(k).fill(targets[e]));
            for (let i = 0; i < k; i++) {
              const s = original[e];
              weights[e * channels + c0 + i] = Math.fround(Math.fround(s - scores[i]) / s);
            }
            options.onProgress?.(e * channels + c0 + k, n * channels);
            await yieldToEventLoop();
          }
        } finally {
          image.dispose();
        }
      }
      return tf.tidy(() => tf.mul(tf.tensor4d(weights, [n, 1, 1, channels]), activations) as tf.Tensor4D);
    } finally {
      activations.dispose();
    }
  }

  /**
   * The target's scores [k,1] with the layer's output replaced by `values`. The layers before it run on the one
   * image (their output is discarded for the replacement), which is exact and k times cheaper than the library's
   * k copies; a model whose later layers also read the image or an earlier layer in a way that cannot broadcast
   * from one example gets the k copies instead.
   */
  private headScores(image: tf.Tensor4D, values: Float32Array, shape: [number, number, number, number]): tf.Tensor2D {
    return tf.tidy(() => {
      const replaced = tf.tensor4d(values, shape);
      let out: tf.Tensor2D;
      try {
        out = this.model.scoresFromLayer!(image, this.layer, replaced);
        if (out.shape[0] !== shape[0]) throw new Error('batch mismatch');
      } catch {
        out = this.model.scoresFromLayer!(tf.tile(image, [shape[0], 1, 1, 1]), this.layer, replaced);
      }
      return out;
    });
  }
}

