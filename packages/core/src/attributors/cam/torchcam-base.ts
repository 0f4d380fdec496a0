// torchcam 0.4.0 (frgfm/torch-cam): the _CAM / _GradCAM pipeline its extractors share.
import * as tf from '@tensorflow/tfjs-core';
import { CamBase, minMaxScale, type CamOptions } from './cam-base.js';

export interface TorchcamOptions extends CamOptions {
  /** Min-max normalise each map to 0..1 as the extractors do by default (torchcam's normalized=True). */
  normalized?: boolean;
}

/** What a torchcam extractor returns. The caller disposes `map`. */
export interface TorchcamResult {
  /**
   * [N,h,w,1] at the layer's resolution: ReLU(Σ_k w_k ⊙ A_k) (NaNs summed as 0), normalised per example to
   * (x − min) / (max(x − min) + 1e-8) unless `normalized: false`.
   */
  map: tf.Tensor4D;
  /** The class explained for each example. */
  targets: number[];
}

/** Weights broadcastable to the activations: [N,1,1,C] per channel or [N,h,w,C] per position. */
export interface WeightedLayer {
  weights: tf.Tensor4D;
  activations: tf.Tensor4D;
}

/** _CAM.compute_cams for one layer with _GradCAM's ReLU before normalisation. */
export abstract class TorchcamMethod<Options extends TorchcamOptions = TorchcamOptions> extends CamBase {
  async explain(input: tf.Tensor4D, options?: Options): Promise<TorchcamResult> {
    const targets = await this.targetsFor(input, options);
    const opts = (options ?? {}) as Options;
    const { weights, activations } = await this.weightedLayer(input, targets, opts);
    try {
      const map = tf.tidy(() => {
        const product = tf.mul(weights, activations);
        const cam = tf.relu(tf.sum(tf.where(tf.isNaN(product), tf.zerosLike(product), product), 3, true)) as tf.Tensor4D;
        return opts.normalized === false ? cam : minMaxScale(cam, 1e-8);
      });
      return { map, targets };
    } finally {
      tf.dispose([weights, activations]);
    }
  }

  /** The weights (_get_weights) and the activations they multiply; both are disposed by `explain`. */
  protected abstract weightedLayer(input: tf.Tensor4D, targets: number[], options: Options): Promise<WeightedLayer>;
}
