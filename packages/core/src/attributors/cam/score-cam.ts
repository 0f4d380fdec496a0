import * as tf from '@tensorflow/tfjs-core';
import { positiveInteger } from '../attributor.js';
import { forwardScorerFor, scoreBatches, type ForwardWorkerOptions } from '../forward-workers.js';
import { WeightedActivationsCam, type PytorchCamOptions } from './pytorch-grad-cam-base.js';

export interface ScoreCamOptions extends PytorchCamOptions, ForwardWorkerOptions {
  /** Masked copies of the input per forward pass; default 16 (pytorch-grad-cam's BATCH_SIZE). */
  batchSize?: number;
}

/**
 * pytorch-grad-cam's ScoreCAM (forward passes only): each channel's activation map, upsampled to the input with
 * torch's UpsamplingBilinear2d (align_corners=True) and min-max scaled (+1e-8), masks the input; the target's raw
 * output scores of the C masked inputs, softmaxed over the channels, weight the channels. The masked batches are
 * scored where `workers` says (this thread, TF.js workers, or a native engine attached to the model).
 */
export class ScoreCam extends WeightedActivationsCam<ScoreCamOptions> {
  /** Batches the last call scored at a time (1: one thread; >1: on workers), and where. */
  ranOn: { runsOn: 'thread' | 'workers' | 'native'; parallel: number } = { runsOn: 'thread', parallel: 1 };

  protected async weightedActivations(input: tf.Tensor4D, targets: number[], options: ScoreCamOptions): Promise<tf.Tensor4D> {
    const batchSize = positiveInteger(options.batchSize, 'batchSize', 16);
    const forward = forwardScorerFor(this.model, options, 'ScoreCAM');
    this.ranOn = { runsOn: forward.runsOn, parallel: forward.parallel };
    const activations = this.activations(input);
    try {
      const [n, h, w, channels] = activations.shape;
      const [, height, width, inChannels] = input.shape;
      const batches: Array<{ e: number; c0: number; k: number }> = [];
      for (let e = 0; e < n; e++) {
        for (let c0 = 0; c0 < channels; c0 += batchSize) batches.push({ e, c0, k: Math.min(batchSize, channels - c0) });
      }
      const scores = new Float32Array(n * channels);
      let done = 0;
      await scoreBatches(
        forward,
        batches.length,
        async (i) => {
          const { e, c0, k } = batches[i];
          const masked = tf.tidy(() => {
            const maps = tf.slice(activations, [e, 0, 0, c0], [1, h, w, k]);
            const upsampled = tf.image.resizeBilinear(maps, [height, width], true, false);
            const lo = tf.min(upsampled, [1, 2], true);
            const hi = tf.max(upsampled, [1, 2], true);
            const scaled = tf.div(tf.sub(upsampled, lo), tf.add(tf.sub(hi, lo), 1e-8));
            const masks = tf.transpose(scaled, [3, 1, 2, 0]); // [k,H,W,1], one mask per channel
            const image = tf.slice(input, [e, 0, 0, 0], [1, height, width, inChannels]);
            return tf.mul(image, masks) as tf.Tensor4D;
          });
          try {
            const images = (await masked.data()) as Float32Array;
            return { type: 'forward', images, shape: [k, height, width, inChannels], targets: new Array<number>(k).fill(targets[e]) };
          } finally {
            masked.dispose();
          }
        },
        (i, values) => {
          const { e, c0, k } = batches[i];
          scores.set(values, e * channels + c0);
          done += k;
          options.onProgress?.(done, n * channels);
        },
        options.signal,
      );
      return tf.tidy(() => {
        const weights = tf.softmax(tf.tensor2d(scores, [n, channels]));
        return tf.mul(tf.reshape(weights, [n, 1, 1, channels]), activations) as tf.Tensor4D;
      });
    } finally {
      activations.dispose();
    }
  }
}
