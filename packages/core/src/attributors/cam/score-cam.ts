import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted } from '../../errors.js';
import { yieldToEventLoop } from '../../platform.js';
import { positiveInteger } from '../attributor.js';
import { pickScores } from './cam-base.js';
import { WeightedActivationsCam, type PytorchCamOptions } from './pytorch-grad-cam-base.js';

export interface ScoreCamOptions extends PytorchCamOptions {
  /** Masked copies of the input per forward pass; default 16 (pytorch-grad-cam's BATCH_SIZE). */
  batchSize?: number;
}

/**
 * pytorch-grad-cam's ScoreCAM (forward passes only): each channel's activation map, upsampled to the input with
 * torch's UpsamplingBilinear2d (align_corners=True) and min-max scaled (+1e-8), masks the input; the target's raw
 * output scores of the C masked inputs, softmaxed over the channels, weight the channels.
 */
export class ScoreCam extends WeightedActivationsCam<ScoreCamOptions> {
  protected async weightedActivations(input: tf.Tensor4D, targets: number[], options: ScoreCamOptions): Promise<tf.Tensor4D> {
    const batchSize = positiveInteger(options.batchSize, 'batchSize', 16);
    const activations = this.activations(input);
    try {
      const [n, h, w, channels] = activations.shape;
      const [, height, width, inChannels] = input.shape;
      const scores = new Float32Array(n * channels);
      for (let e = 0; e < n; e++) {
        for (let c0 = 0; c0 < channels; c0 += batchSize) {
          throwIfAborted(options.signal);
          const k = Math.min(batchSize, channels - c0);
          const picked = tf.tidy(() => {
            const maps = tf.slice(activations, [e, 0, 0, c0], [1, h, w, k]);
            const upsampled = tf.image.resizeBilinear(maps, [height, width], true, false);
            const lo = tf.min(upsampled, [1, 2], true);
            const hi = tf.max(upsampled, [1, 2], true);
            const scaled = tf.div(tf.sub(upsampled, lo), tf.add(tf.sub(hi, lo), 1e-8));
            const masks = tf.transpose(scaled, [3, 1, 2, 0]); // [k,H,W,1], one mask per channel
            const image = tf.slice(input, [e, 0, 0, 0], [1, height, width, inChannels]);
            return this.model.predict(tf.mul(image, masks) as tf.Tensor4D);
          });
          scores.set(await pickScores(picked, new Array<number>(k).fill(targets[e])), e * channels + c0);
          options.onProgress?.(e * channels + c0 + k, n * channels);
          await yieldToEventLoop();
        }
      }
      return tf.tidy(() => {
        const weights = tf.softmax(tf.tensor2d(scores, [n, channels]));
        return tf.mul(tf.reshape(weights, [n, 1, 1, channels]), activations) as tf.Tensor4D;
      });
    } finally {
      activations.dispose();
    }
  }
}
