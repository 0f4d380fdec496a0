import * as tf from '@tensorflow/tfjs-core';
import { WeightedActivationsCam, type PytorchCamOptions } from './pytorch-grad-cam-base.js';

/** pytorch-grad-cam's LayerCAM: map = ReLU(Σ_k ReLU(∂score/∂A_k) ⊙ A_k). (torchcam's is TorchcamLayerCam.) */
export class LayerCam extends WeightedActivationsCam {
  protected async weightedActivations(input: tf.Tensor4D, targets: number[], options: PytorchCamOptions): Promise<tf.Tensor4D> {
    const { activations, gradients } = await this.activationsAndGradients(input, targets);
    options.onProgress?.(1, 1);
    const product = tf.tidy(() => tf.mul(tf.relu(gradients), activations)) as tf.Tensor4D;
    tf.dispose([activations, gradients]);
    return product;
  }
}
