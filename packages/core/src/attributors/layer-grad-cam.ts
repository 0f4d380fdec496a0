import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../errors.js';
import type { Model } from '../model.js';
import type { AttributeOptions } from './attributor.js';
import { GradientAttribution, layerGradients } from './gradient-attribution.js';

export type InterpolateMode = 'nearest' | 'bilinear';

export interface LayerGradCamOptions extends AttributeOptions {
  /** Apply ReLU to the map (Captum's relu_attributions); default false. */
  reluAttributions?: boolean;
}

const isSpatial = (shape: Array<number | null> | undefined) =>
  !!shape && shape.length === 4 && ((shape[1] ?? 2) > 1 || (shape[2] ?? 2) > 1);

/**
 * Captum's LayerGradCam: Σ_k mean_hw(∂score/∂A_k) · A_k over the channels k of a layer's output A, optionally ReLU'd.
 * `attribute` returns the layer-sized map [N,h,w,1] as Captum does; `LayerGradCam.interpolate` resizes it.
 */
export class LayerGradCam extends GradientAttribution<LayerGradCamOptions> {
  /** The layer explained: the one given, or the last 4-D activation before global pooling. */
  readonly layer: string;
  /** Whether `layer` was chosen automatically. */
  readonly layerIsDefault: boolean;

  constructor(model: Model, layer?: string) {
    super(model);
    this.layerIsDefault = layer === undefined;
    this.layer = layer ?? LayerGradCam.defaultLayer(model);
    const names = model.layerNames?.();
    if (names && names.length > 0 && !names.includes(this.layer)) {
      throw new ExplainError('invalid_model', `The model has no layer "${this.layer}". Its layers are: ${names.join(', ')}.`);
    }
  }

  /** The last layer with a spatial 4-D output before the first layer that drops the spatial axes (global pooling). */
  static defaultLayer(model: Model): string {
    const names = model.layerNames?.() ?? [];
    let chosen: string | undefined;
    for (const name of names) {
      const shape = model.layerShape?.(name);
      if (!shape) continue;
      if (isSpatial(shape)) chosen = name;
      else if (chosen) break;
    }
    if (!chosen) {
      throw new ExplainError(
        'invalid_model',
        'Could not find a 4-D convolutional activation to explain; pass the layer name' +
          (names.length ? ` (layers: ${names.join(', ')}).` : '.'),
      );
    }
    return chosen;
  }

  /** Captum's LayerAttribution.interpolate: resize [N,h,w,1] to [N,H,W,1]; bilinear is torch's align_corners=False. */
  static interpolate(map: tf.Tensor4D, size: [number, number], mode: InterpolateMode = 'nearest'): tf.Tensor4D {
    if (mode === 'nearest') return tf.image.resizeNearestNeighbor(map, size, false, false);
    if (mode === 'bilinear') return tf.image.resizeBilinear(map, size, false, true);
    throw new ExplainError('invalid_option', `interpolate mode must be 'nearest' or 'bilinear'; got ${String(mode)}.`);
  }

  async attribute(input: tf.Tensor4D, options: LayerGradCamOptions): Promise<tf.Tensor4D> {
    const targets = await this.prepare(input, options);
    const { activations, gradients } = layerGradients(this.model, input, this.layer, targets);
    const map = tf.tidy(() => {
      const weights = tf.mean(gradients, [1, 2], true);
      const summed = tf.sum(tf.mul(weights, activations), 3, true) as tf.Tensor4D;
      return options.reluAttributions ? tf.relu(summed) : summed;
    });
    tf.dispose([activations, gradients]);
    options.onProgress?.(1, 1);
    return map;
  }
}
