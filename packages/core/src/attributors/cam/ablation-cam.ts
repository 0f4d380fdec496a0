import * as tf from '@tensorflow/tfjs-core';
import { predictScores } from '../../model.js';
import { positiveInteger } from '../attributor.js';
import { forwardScorerFor, scoreBatches, type ForwardWorkerOptions } from '../forward-workers.js';
import { pickScores } from './cam-base.js';
import { WeightedActivationsCam, type PytorchCamOptions } from './pytorch-grad-cam-base.js';

export interface AblationCamOptions extends PytorchCamOptions, ForwardWorkerOptions {
  /** Ablated copies of the layer's activations per forward pass of the layers after it; default 32 (the library's). */
  batchSize?: number;
}

const ABLATION_VALUE = 1e7;

/**
 * pytorch-grad-cam's AblationCAM (forward passes only, all channels ablated): w_k = (s − s_k) / s, with s the
 * target's raw output score and s_k the score with channel k of the layer ablated; map = ReLU(Σ_k w_k A_k).
 * Ablation as the library's AblationLayer: the channel is set to 0 when the activations' minimum is 0 (ReLU
 * layers); otherwise the i-th copy of a batch gets (minimum − 1e7·(i+1)), because the library lowers the batch's
 * running minimum by 1e7 with each copy it ablates. The ablated batches run from the layer on, where `workers`
 * says: this thread, TF.js workers, or a native engine that can run the network from the layer (else TF.js runs
 * them, and onWarning says so).
 */
export class AblationCam extends WeightedActivationsCam<AblationCamOptions> {
  /** Batches the last call scored at a time (1: one thread; >1: on workers), and where. */
  ranOn: { runsOn: 'thread' | 'workers' | 'native'; parallel: number } = { runsOn: 'thread', parallel: 1 };

  protected async weightedActivations(input: tf.Tensor4D, targets: number[], options: AblationCamOptions): Promise<tf.Tensor4D> {
    const batchSize = positiveInteger(options.batchSize, 'batchSize', 32);
    const forward = forwardScorerFor(this.model, options, 'AblationCAM', this.layer);
    this.ranOn = { runsOn: forward.runsOn, parallel: forward.parallel };
    const activations = this.activations(input);
    try {
      const [n, h, w, channels] = activations.shape;
      const [, height, width, inChannels] = input.shape;
      const original = await pickScores(predictScores(this.model, input), targets);
      const all = (await activations.data()) as Float32Array;
      const images = (await input.data()) as Float32Array;
      const size = h * w * channels;
      const imageSize = height * width * inChannels;
      const minima = Array.from({ length: n }, (_, e) => {
        let minimum = Infinity;
        for (const v of all.subarray(e * size, (e + 1) * size)) minimum = Math.min(minimum, v);
        return minimum;
      });
      const batches: Array<{ e: number; c0: number; k: number }> = [];
      for (let e = 0; e < n; e++) {
        for (let c0 = 0; c0 < channels; c0 += batchSize) batches.push({ e, c0, k: Math.min(batchSize, channels - c0) });
      }
      const weights = new Float32Array(n * channels);
      let done = 0;
      await scoreBatches(
        forward,
        batches.length,
        (i) => {
          const { e, c0, k } = batches[i];
          const example = all.subarray(e * size, (e + 1) * size);
          const minimum = minima[e];
          const ablated = new Float32Array(k * size);
          let fill = minimum;
          for (let j = 0; j < k; j++) {
            ablated.set(example, j * size);
            if (minimum !== 0) fill = Math.fround(fill - ABLATION_VALUE);
            const value = minimum === 0 ? 0 : fill;
            for (let p = 0; p < h * w; p++) ablated[j * size + p * channels + c0 + j] = value;
          }
          return {
            type: 'forward-layer',
            image: images.slice(e * imageSize, (e + 1) * imageSize),
            imageShape: [1, height, width, inChannels],
            layer: this.layer,
            activations: ablated,
            shape: [k, h, w, channels],
            targets: new Array<number>(k).fill(targets[e]),
          };
        },
        (i, scores) => {
          const { e, c0, k } = batches[i];
          const s = original[e];
          for (let j = 0; j < k; j++) weights[e * channels + c0 + j] = Math.fround(Math.fround(s - scores[j]) / s);
          done += k;
          options.onProgress?.(done, n * channels);
        },
        options.signal,
      );
      return tf.tidy(() => tf.mul(tf.tensor4d(weights, [n, 1, 1, channels]), activations) as tf.Tensor4D);
    } finally {
      activations.dispose();
    }
  }
}
