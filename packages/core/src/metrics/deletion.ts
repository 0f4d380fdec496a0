import type * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../model.js';
import { causalCurve, type CurveOptions, type CurveResult } from './causal-curve.js';

/**
 * RISE's deletion metric: the most important pixels (by the attribution summed over channels) are set to 0 in the
 * model's input space, `steps` steps from the whole image to none of it; `values` holds each example's area under
 * the target's probability curve, lower meaning a more faithful map. Ties and step sizes: see causalCurve.
 *
 * @example
 * ```ts
 * const map = await new Saliency(model).attribute(input, { target: 285 });
 * const { values: [auc], curves: [curve] } = await deletion(model, input, map, { target: 285, steps: 112 });
 * map.dispose();
 * ```
 */
export function deletion(model: Model, input: tf.Tensor4D, attribution: tf.Tensor, options: CurveOptions): Promise<CurveResult> {
  return causalCurve('deletion', model, input, attribution, options);
}
