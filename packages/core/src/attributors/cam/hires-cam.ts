import * as tf from '@tensorflow/tfjs-core';
import { WeightedActivationsCam, type PytorchCamOptions } from './pytorch-grad-cam-base.js';

/** pytorch-grad-cam's HiResCAM: map = ReLU(Σ_k ∂score/∂A_k ⊙ A_k), element-wise before the channel sum. */
export class HiResCam extends WeightedActivationsCam {
  protected async weightedActivations(input: tf.Tensor4D, targets: number[], options: PytorchCamOptions): Promise<tf.Tensor4D> {
    const { activations, gradients } = await this.activationsAndGradients(input, targets);
    options.onProgress?.(1, 1);
    const product = tf.mul(gradients, activations) as tf.Tensor4D;
    tf.dispose([activations, gradients]);
    return product;
  }
}
