import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../errors.js';
import type { Model } from '../model.js';
import type { AttributeOptions } from './attributor.js';
import { GradientAttribution } from './gradient-attribution.js';
import { GuidedBackprop } from './guided-backprop.js';
import { LayerGradCam, type InterpolateMode } from './layer-grad-cam.js';

export interface GuidedGradCamOptions extends AttributeOptions {
  /** How the Grad-CAM map is resized to the input; default 'nearest' as Captum. */
  interpolateMode?: InterpolateMode;
}

/** Captum's GuidedGradCam: GuidedBackprop × the ReLU'd Grad-CAM map resized to the input, broadcast over channels. */
export class GuidedGradCam extends GradientAttribution<GuidedGradCamOptions> {
  private readonly gradCam: LayerGradCam;
  private readonly guided: GuidedBackprop;

  constructor(model: Model, layer?: string) {
    super(model);
    this.gradCam = new LayerGradCam(model, layer);
    this.guided = new GuidedBackprop(model);
  }

  get layer(): string {
    return this.gradCam.layer;
  }

  async attribute(input: tf.Tensor4D, options: GuidedGradCamOptions): Promise<tf.Tensor4D> {
    await this.prepare(input, options);
    const mode = options.interpolateMode ?? 'nearest';
    if (mode !== 'nearest' && mode !== 'bilinear') {
      throw new ExplainError('invalid_option', `interpolateMode must be 'nearest' or 'bilinear'; got ${String(mode)}.`);
    }
    const inner = { target: options.target, signal: options.signal };
    const map = await this.gradCam.attribute(input, { ...inner, reluAttributions: true });
    let guided: tf.Tensor4D;
    try {
      guided = await this.guided.attribute(input, inner);
    } catch (error) {
      map.dispose();
      throw error;
    }
    const result = tf.tidy(() =>
      tf.mul(guided, LayerGradCam.interpolate(map, [input.shape[1], input.shape[2]], mode)),
    ) as tf.Tensor4D;
    tf.dispose([map, guided]);
    options.onProgress?.(1, 1);
    return result;
  }
}
