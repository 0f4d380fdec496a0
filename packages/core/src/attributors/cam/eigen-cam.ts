import * as tf from '@tensorflow/tfjs-core';
import { WeightedActivationsCam, type PytorchCamOptions } from './pytorch-grad-cam-base.js';

/**
 * pytorch-grad-cam's EigenCAM: the activations' projection on their first principal component (no gradients;
 * the target only matters for the default top-1 reported in `targets`). See principal-component.ts for the sign.
 */
export class EigenCam extends WeightedActivationsCam {
  protected async weightedActivations(input: tf.Tensor4D, _targets: number[], options: PytorchCamOptions): Promise<tf.Tensor4D> {
    const activations = this.activations(input);
    options.onProgress?.(1, 1);
    return activations;
  }

  protected override projects(): boolean {
    return true;
  }
}
