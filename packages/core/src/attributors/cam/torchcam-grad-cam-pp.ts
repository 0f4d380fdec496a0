import * as tf from '@tensorflow/tfjs-core';
import { TorchcamMethod, type TorchcamOptions, type WeightedLayer } from './torchcam-base.js';

/**
 * torchcam 0.4.0's GradCAMpp as it computes: w_k = Σ_hw α · ReLU(g) with α = g². Its source means
 * α = g² / (2g² + Σ_hw g³·A_k + 1e-8) where g² > 0, but applies the division in place to a masked copy
 * (`alpha[mask].div_(...)`), so α stays g²; the references confirm it. (pytorch-grad-cam's GradCamPlusPlus divides.)
 */
export class TorchcamGradCamPP extends TorchcamMethod {
  protected async weightedLayer(input: tf.Tensor4D, targets: number[], options: TorchcamOptions): Promise<WeightedLayer> {
    const { activations, gradients } = await this.activationsAndGradients(input, targets);
    options.onProgress?.(1, 1);
    const weights = tf.tidy(() => tf.sum(tf.mul(tf.square(gradients), tf.relu(gradients)), [1, 2], true)) as tf.Tensor4D;
    gradients.dispose();
    return { weights, activations };
  }
}
