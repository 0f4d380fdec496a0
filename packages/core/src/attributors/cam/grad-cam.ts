import * as tf from '@tensorflow/tfjs-core';
import { ChannelWeightsCam } from './pytorch-grad-cam-base.js';

/** pytorch-grad-cam's GradCAM: weights = spatial mean of ∂score/∂A; map = ReLU(Σ_k w_k A_k). */
export class GradCam extends ChannelWeightsCam {
  protected channelWeights(_activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D {
    return tf.mean(gradients, [1, 2], true) as tf.Tensor4D;
  }
}
