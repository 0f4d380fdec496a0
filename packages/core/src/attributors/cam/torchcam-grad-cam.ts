import * as tf from '@tensorflow/tfjs-core';
import { TorchcamMethod, type TorchcamOptions, type WeightedLayer } from './torchcam-base.js';

/** torchcam's GradCAM: w_k = spatial mean of ∂score/∂A_k; map = normalise(ReLU(Σ_k w_k A_k)). */
export class TorchcamGradCam extends TorchcamMethod {
  protected async weightedLayer(input: tf.Tensor4D, targets: number[], options: TorchcamOptions): Promise<WeightedLayer> {
    const { activations, gradients } = await this.activationsAndGradients(input, targets);
    options.onProgress?.(1, 1);
    const weights = tf.mean(gradients, [1, 2], true) as tf.Tensor4D;
    gradients.dispose();
    return { weights, activations };
  }
}
