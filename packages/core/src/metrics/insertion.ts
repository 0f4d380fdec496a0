import type * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../model.js';
import { causalCurve, type CurveOptions, type CurveResult } from './causal-curve.js';

/**
 * RISE's insertion metric: starting from the input blurred as RISE does (11×11 Gaussian, σ 5), the most important
 * pixels (by the attribution summed over channels) get their original values back, `steps` steps until the whole
 * image is restored; `values` holds each example's area under the target's probability curve, higher meaning a more
 * faithful map. Ties and step sizes: see causalCurve.
 */
export function insertion(model: Model, input: tf.Tensor4D, attribution: tf.Tensor, options: CurveOptions): Promise<CurveResult> {
  return causalCurve('insertion', model, input, attribution, options);
}
