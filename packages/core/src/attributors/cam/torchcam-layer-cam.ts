import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../../errors.js';
import { resizeBilinearHalfPixel } from './cam-base.js';
import { TorchcamMethod, type TorchcamOptions, type WeightedLayer } from './torchcam-base.js';

/** torchcam's LayerCAM: weights ReLU(∂score/∂A) per position; map = normalise(ReLU(Σ_k ReLU(g_k) ⊙ A_k)). */
export class TorchcamLayerCam extends TorchcamMethod {
  protected async weightedLayer(input: tf.Tensor4D, targets: number[], options: TorchcamOptions): Promise<WeightedLayer> {
    const { activations, gradients } = await this.activationsAndGradients(input, targets);
    options.onProgress?.(1, 1);
    const weights = tf.relu(gradients) as tf.Tensor4D;
    gradients.dispose();
    return { weights, activations };
  }

  /**
   * torchcam's LayerCAM.fuse_cams: one map is returned as it is (a copy); several are each scaled by tanh(2·x)
   * (eq. 9 of the LayerCAM paper), resized bilinearly (align_corners=False) to `targetShape` (default: the largest
   * height and the largest width among them) and fused by their element-wise maximum. Maps are [N,h,w,1] of one batch.
   */
  static fuseCams(maps: tf.Tensor4D[], targetShape?: [number, number]): tf.Tensor4D {
    if (!Array.isArray(maps) || maps.length === 0 || maps.some((m) => !(m instanceof tf.Tensor) || m.rank !== 4)) {
      throw new ExplainError('invalid_option', 'fuseCams takes a non-empty list of [N,h,w,1] maps of the same batch.');
    }
    if (maps.some((m) => m.shape[0] !== maps[0].shape[0] || m.shape[3] !== 1)) {
      throw new ExplainError('invalid_option', 'fuseCams: every map must be [N,h,w,1] with the same N.');
    }
    if (maps.length === 1) return tf.clone(maps[0]);
    const shape = targetShape ?? [Math.max(...maps.map((m) => m.shape[1])), Math.max(...maps.map((m) => m.shape[2]))];
    return tf.tidy(() => {
      const scaled = maps.map((m) => resizeBilinearHalfPixel(tf.tanh(tf.mul(m, 2)) as tf.Tensor4D, shape));
      return scaled.reduce((a, b) => tf.maximum(a, b)) as tf.Tensor4D;
    });
  }
}
