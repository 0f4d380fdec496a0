import * as tf from '@tensorflow/tfjs-core';
import { ChannelWeightsCam } from './pytorch-grad-cam-base.js';

/** pytorch-grad-cam's XGradCAM: w_k = Σ_hw (∂score/∂A_k · A_k) / (Σ_hw A_k + 1e-7). */
export class XGradCam extends ChannelWeightsCam {
  protected channelWeights(activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D {
    const sumActivations = tf.sum(activations, [1, 2], true);
    return tf.sum(tf.div(tf.mul(gradients, activations), tf.add(sumActivations, 1e-7)), [1, 2], true) as tf.Tensor4D;
  }
}
