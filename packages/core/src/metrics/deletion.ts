import type * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../model.js';
import { causalCurve, type CurveOptions, type CurveResult } from './causal-curve.js';

/**
 * RISE's deletion metric: the most important pixels (by the attribution summed over channels) are set to 0 in the
 * model's input space, `steps` steps from the whole image to none of it; `values` holds each example's area under
 * the target's probability curve, lower meaning a more faithful map. Ties and step sizes: see causalCurve.
 */
export function deletion(model: Model, input: tf.Tensor4D, attribution: tf.Tensor, options: CurveOptions): Promise<CurveResult> {
  return causalCurve('deletion', model, input, attribution, options);
}
