import type * as tf from '@tensorflow/tfjs-core';
import type { AttributeOptions } from './attributor.js';
import { GradientAttribution, inputGradients } from './gradient-attribution.js';

/**
 * Captum's GuidedBackprop: the input gradient with every ReLU's backward pass replaced by relu(grad_out)·(x > 0).
 * Applies to Relu and Relu6 ops alike, including activations fused into convolutions (tfjs unfuses them while
 * differentiating).
 */
export class GuidedBackprop extends GradientAttribution<AttributeOptions> {
  async attribute(input: tf.Tensor4D, options: AttributeOptions): Promise<tf.Tensor4D> {
    const targets = await this.prepare(input, options);
    const result = inputGradients(this.model, input, targets, 'guided');
    options.onProgress?.(1, 1);
    return result;
  }
}
