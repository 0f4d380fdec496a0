import * as tf from '@tensorflow/tfjs-core';
import type { AttributeOptions } from './attributor.js';
import { GradientAttribution, inputGradients } from './gradient-attribution.js';

export interface SaliencyOptions extends AttributeOptions {
  /** Return |gradient| (Captum's default, true) or the signed gradient. */
  abs?: boolean;
}

/** Captum's Saliency: the gradient of the target score with respect to the input, absolute by default. */
export class Saliency extends GradientAttribution<SaliencyOptions> {
  async attribute(input: tf.Tensor4D, options: SaliencyOptions): Promise<tf.Tensor4D> {
    const targets = await this.prepare(input, options);
    const grads = inputGradients(this.model, input, targets);
    options.onProgress?.(1, 1);
    if (options.abs === false) return grads;
    const result = tf.abs(grads);
    grads.dispose();
    return result;
  }
}
