// easy-explain 0.5's CAMExplain.generate_explanation in one call: the maps it draws, for viz's overlayMask.
import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../../errors.js';
import type { Model } from '../../model.js';
import { checkImageBatch } from '../attributor.js';
import { checkCamModel, resizeBilinearHalfPixel, topClasses, type CamOptions } from './cam-base.js';
import { SmoothGradCamPP, type SmoothGradCamPPOptions } from './smooth-grad-cam-pp.js';
import { TorchcamLayerCam } from './torchcam-layer-cam.js';
import { LayerGradCam } from '../layer-grad-cam.js';

/** One map of one image, row-major (what viz's overlayMask takes). */
export interface CamMap {
  data: Float32Array;
  height: number;
  width: number;
}

export interface CamExplainOptions extends Omit<CamOptions, 'target'> {
  /**
   * The layers of the multi-layer LayerCAM (easy-explain's `multiple_layers`); the first one is also the layer of
   * SmoothGradCAM++ and of the localisation mask unless `layer` is given. Default: [the last spatial layer].
   */
  layers?: string[];
  /** The layer of SmoothGradCAM++ and of the localisation mask (easy-explain's `target_layer`); default layers[0]. */
  layer?: string;
  /** Localisation mask: the LayerCAM map resized to the input and compared ≥ threshold; default 0.5 (easy-explain's). */
  threshold?: number;
  /** The class to explain; default the top-1 class of the raw output (easy-explain's argmax). */
  target?: number;
  /** SmoothGradCAM++ options (numSamples 4, std 0.3, noise, seed) as SmoothGradCamPP takes them. */
  smooth?: Pick<SmoothGradCamPPOptions, 'numSamples' | 'std' | 'noise' | 'seed'>;
}

export interface CamExplanation {
  /** The class explained. */
  target: number;
  /** The layer of SmoothGradCAM++ and of the localisation mask. */
  layer: string;
  /** torchcam's SmoothGradCAMpp map at the layer's resolution, normalised to 0..1 (easy-explain's first figure). */
  smoothGradCamPP: CamMap;
  /** torchcam's LayerCAM map on `layer` at the layer's resolution, normalised to 0..1. */
  layerCam: CamMap;
  /** 1 where the LayerCAM map, resized to the input (bilinear, half-pixel), is ≥ threshold, else 0: H×W. */
  localisationMask: CamMap;
  /** The layers fused (`layers`). */
  layers: string[];
  /** LayerCAM's normalised map of each of `layers`, in their order. */
  layerMaps: CamMap[];
  /** LayerCAM.fuse_cams of `layerMaps`: tanh(2·x), resized to the largest map, element-wise maximum (one layer: as is). */
  fused: CamMap;
}

async function toMap(t: tf.Tensor4D): Promise<CamMap> {
  try {
    return { data: (await t.data()) as Float32Array, height: t.shape[1], width: t.shape[2] };
  } finally {
    t.dispose();
  }
}

/**
 * easy-explain's CAMExplain on one image [1,H,W,C]: the top class, torchcam's SmoothGradCAM++ map on `layer`, the
 * LayerCAM localisation mask (LayerCAM map resized to the input ≥ threshold) and the fused multi-layer LayerCAM
 * map. Draw a map over the image with viz's `overlayMask` (jet, alpha 0.5 as easy-explain).
 */
export async function camExplain(model: Model, input: tf.Tensor4D, options: CamExplainOptions = {}): Promise<CamExplanation> {
  checkCamModel(model);
  checkImageBatch(input);
  if (input.shape[0] !== 1) {
    throw new ExplainError('invalid_input', `camExplain takes one image [1,H,W,C]; got a batch of ${input.shape[0]}.`);
  }
  const threshold = options.threshold ?? 0.5;
  if (!Number.isFinite(threshold)) throw new ExplainError('invalid_option', `threshold must be a number; got ${threshold}.`);
  if (options.layers !== undefined && (!Array.isArray(options.layers) || options.layers.length === 0)) {
    throw new ExplainError('invalid_option', 'layers must be a non-empty list of layer names.');
  }
  const layers = options.layers ?? [options.layer ?? LayerGradCam.defaultLayer(model)];
  const layer = options.layer ?? layers[0];
  // Every extractor first, so a bad layer fails before any work.
  const smooth = new SmoothGradCamPP(model, layer);
  const localiser = new TorchcamLayerCam(model, layer);
  const layerCams = layers.map((name) => new TorchcamLayerCam(model, name));

  const target = options.target ?? (await topClasses(model, input))[0];
  const common = { target, signal: options.signal };
  const smoothMap = (await smooth.explain(input, { ...common, ...options.smooth, onProgress: options.onProgress })).map;
  const smoothGradCamPP = await toMap(smoothMap);

  const local = (await localiser.explain(input, common)).map;
  const mask = tf.tidy(() =>
    tf.cast(tf.greaterEqual(resizeBilinearHalfPixel(local, [input.shape[1], input.shape[2]]), threshold), 'float32'),
  ) as tf.Tensor4D;
  const layerCam = await toMap(local);
  const localisationMask = await toMap(mask);

  const maps: tf.Tensor4D[] = [];
  try {
    for (const extractor of layerCams) maps.push((await extractor.explain(input, common)).map);
    const fused = await toMap(TorchcamLayerCam.fuseCams(maps));
    const layerMaps: CamMap[] = [];
    for (const m of maps.splice(0)) layerMaps.push(await toMap(m));
    return { target, layer, smoothGradCamPP, layerCam, localisationMask, layers, layerMaps, fused };
  } finally {
    tf.dispose(maps);
  }
}
