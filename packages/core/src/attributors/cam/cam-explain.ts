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
  /** The layer of SmoothGradCAM++ (easy-explain's `target_layer`); default the last spatial layer, as torchcam's. */
  layer?: string;
  /**
   * The layers of the multi-layer LayerCAM and its fusion (easy-explain's `multiple_layers`); default none, and then
   * `layerMaps` is empty and `fused` absent.
   */
  layers?: string[];
  /**
   * The layer of the localisation mask's LayerCAM; default the last spatial layer (easy-explain calls LayerCAM
   * without a layer, so torchcam locates it, whatever `target_layer` is).
   */
  maskLayer?: string;
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
  /** The layer of SmoothGradCAM++. */
  layer: string;
  /** torchcam's SmoothGradCAMpp map at the layer's resolution, normalised to 0..1 (easy-explain's first figures). */
  smoothGradCamPP: CamMap;
  /** The layer of the localisation mask. */
  maskLayer: string;
  /** torchcam's LayerCAM map on `maskLayer` at its resolution, normalised to 0..1. */
  layerCam: CamMap;
  /**
   * 1 where the LayerCAM map, resized to the input (bilinear, half-pixel centres, as torchvision's resize when
   * upsampling), is ≥ threshold, else 0: H×W.
   */
  localisationMask: CamMap;
  /** The layers fused (`layers`). */
  layers: string[];
  /** LayerCAM's normalised map of each of `layers`, in their order. */
  layerMaps: CamMap[];
  /**
   * LayerCAM.fuse_cams of `layerMaps` (when `layers` is given): tanh(2·x), resized to the largest map, element-wise
   * maximum; one layer's map is returned as it is.
   */
  fused?: CamMap;
}

async function toMap(t: tf.Tensor4D): Promise<CamMap> {
  return { data: (await t.data()) as Float32Array, height: t.shape[1], width: t.shape[2] };
}

/**
 * easy-explain's CAMExplain.generate_explanation on one image [1,H,W,C]: the top class, torchcam's SmoothGradCAM++
 * map on `layer`, the LayerCAM localisation mask (LayerCAM map on `maskLayer` resized to the input ≥ threshold)
 * and, for `layers`, their LayerCAM maps and the fused map. Draw a map over the image with viz's `overlayMask`
 * (jet, alpha 0.5 as easy-explain).
 */
export async function camExplain(model: Model, input: tf.Tensor4D, options: CamExplainOptions = {}): Promise<CamExplanation> {
  checkCamModel(model);
  checkImageBatch(input);
  if (input.shape[0] !== 1) {
    throw new ExplainError('invalid_input', `camExplain takes one image [1,H,W,C]; got a batch of ${input.shape[0]}.`);
  }
  const threshold = options.threshold ?? 0.5;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
    throw new ExplainError('invalid_option', `threshold must be a number; got ${String(threshold)}.`);
  }
  const layers = options.layers ?? [];
  if (!Array.isArray(layers)) throw new ExplainError('invalid_option', 'layers must be a list of layer names.');
  // Every extractor first, so a bad layer fails before any work; LayerCAM once per distinct layer.
  const smooth = new SmoothGradCamPP(model, options.layer);
  const maskLayer = options.maskLayer ?? (options.layer === undefined ? smooth.layer : LayerGradCam.defaultLayer(model));
  const layerCams = new Map<string, TorchcamLayerCam>();
  for (const name of [maskLayer, ...layers]) if (!layerCams.has(name)) layerCams.set(name, new TorchcamLayerCam(model, name));

  const target = options.target ?? (await topClasses(model, input))[0];
  const common = { target, signal: options.signal };
  const maps = new Map<string, tf.Tensor4D>();
  let smoothMap: tf.Tensor4D | undefined;
  let mask: tf.Tensor4D | undefined;
  let fused: tf.Tensor4D | undefined;
  try {
    smoothMap = (await smooth.explain(input, { ...common, ...options.smooth, onProgress: options.onProgress })).map;
    for (const [name, extractor] of layerCams) maps.set(name, (await extractor.explain(input, common)).map);
    const local = maps.get(maskLayer)!;
    mask = tf.tidy(() =>
      tf.cast(tf.greaterEqual(resizeBilinearHalfPixel(local, [input.shape[1], input.shape[2]]), threshold), 'float32'),
    ) as tf.Tensor4D;
    if (layers.length > 0) fused = TorchcamLayerCam.fuseCams(layers.map((name) => maps.get(name)!));
    const layerMaps: CamMap[] = [];
    for (const name of layers) layerMaps.push(await toMap(maps.get(name)!));
    return {
      target,
      layer: smooth.layer,
      smoothGradCamPP: await toMap(smoothMap),
      maskLayer,
      layerCam: await toMap(local),
      localisationMask: await toMap(mask),
      layers: [...layers],
      layerMaps,
      fused: fused ? await toMap(fused) : undefined,
    };
  } finally {
    tf.dispose([smoothMap, mask, fused, ...maps.values()].filter((t): t is tf.Tensor4D => t !== undefined));
  }
}
