import * as tf from '@tensorflow/tfjs-core';
import { ChannelWeightsCam } from './pytorch-grad-cam-base.js';

/**
 * pytorch-grad-cam's GradCAMPlusPlus (eq. 19 of the paper with exponentials' derivatives = powers of the gradient):
 * α = g² / (2g² + Σ_hw A_k · g³ + 1e-6), zero where g = 0; w_k = Σ_hw ReLU(g) · α.
 * (torchcam's GradCAMpp differs: see TorchcamGradCamPP.)
 */
export class GradCamPlusPlus extends ChannelWeightsCam {
  protected channelWeights(activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D {
    const g2 = tf.square(gradients);
    const g3 = tf.mul(g2, gradients);
    const sumActivations = tf.sum(activations, [1, 2], true);
    const alpha = tf.div(g2, tf.add(tf.add(tf.mul(g2, 2), tf.mul(sumActivations, g3)), 1e-6));
    const nonZero = tf.notEqual(gradients, 0);
    const alphaMasked = tf.where(nonZero, alpha, tf.zerosLike(alpha));
    return tf.sum(tf.mul(tf.relu(gradients), alphaMasked), [1, 2], true) as tf.Tensor4D;
  }
}
