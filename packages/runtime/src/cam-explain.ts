// easy-explain's CAMExplain, once for both platforms: the top class, torchcam's SmoothGradCAM++ map and its overlay,
// the LayerCAM localisation mask, and LayerCAM on several layers fused, drawn as easy-explain draws them.
import * as tf from '@tensorflow/tfjs-core';
import { camExplain, ExplainError, type CamExplanation, type CamMap, type Model, type Prediction, type PreprocessPreset } from '@easy-explain/core';
import { checkPreset, predictClasses, throwIfAborted } from '@easy-explain/core/internal';
import { colorizeMap, overlayMask, type PanelSpec } from '@easy-explain/viz';
import type { AbortSignalLike } from '@easy-explain/core';
import type { ExplainPlatform, FigureInfo, ModelMetadata } from './explain.js';
import { resolveLabels, type LabelsSource } from './labels.js';
import { prepareInput } from './prepare.js';

export interface CamExplainRunOptions<Image = unknown> {
  /** The photo, as runEasyExplain takes it. */
  image: Image | tf.Tensor3D;
  /** SmoothGradCAM++'s layer (easy-explain's `target_layer`); default the last spatial layer. */
  layer?: string;
  /** Layers of the multi-layer LayerCAM and its fusion (easy-explain's `multiple_layers`); default none. */
  layers?: string[];
  /** The localisation mask's threshold; default 0.5 (easy-explain's). */
  threshold?: number;
  /** Weight of the photo in the overlays; default 0.5 (easy-explain's). */
  alpha?: number;
  /** Class to explain; default the top class. */
  target?: number;
  preset?: PreprocessPreset;
  labels?: LabelsSource;
  /** SmoothGradCAM++'s noise seed (4 samples, std 0.3 as torchcam). */
  seed?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignalLike;
}

export interface CamExplainRunResult<F extends FigureInfo = FigureInfo> {
  predictions: Prediction[];
  target: number;
  targetLabel: string;
  /** The maps, at their layers' resolutions (the mask at the input's). */
  explanation: CamExplanation;
  /** easy-explain's figures: SmoothGradCAM++ (map, overlay), the localisation mask (map, mask), the fused layers. */
  figures: F[];
}

type Pixels = PanelSpec['image'];

/** Pixels scaled to height×width by nearest neighbour: a 7×7 map shown as large as the photo, as imshow does. */
function upscale(image: Pixels, height: number, width: number): Pixels {
  if (image.height === height && image.width === width) return image;
  const data = new Uint8ClampedArray(height * width * 4);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(image.height - 1, Math.floor((y * image.height) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(image.width - 1, Math.floor((x * image.width) / width));
      data.set(image.data.subarray((sy * image.width + sx) * 4, (sy * image.width + sx) * 4 + 4), (y * width + x) * 4);
    }
  }
  return { width, height, data };
}

/**
 * easy-explain's CAMExplain on any platform: torchcam's SmoothGradCAM++ on the top class (or `target`), the LayerCAM
 * localisation mask, and the fused LayerCAM of `layers`, with the figures easy-explain shows (raw maps as imshow
 * draws them; overlays as torchcam's overlay_mask: jet at alpha 0.5). Leaves no tensor behind.
 */
export async function explainCams<Image, F extends FigureInfo>(
  platform: ExplainPlatform<Image, F>,
  model: Model & ModelMetadata,
  options: CamExplainRunOptions<Image>,
): Promise<CamExplainRunResult<F>> {
  const { signal } = options;
  const alpha = options.alpha ?? 0.5;
  if (!(typeof alpha === 'number' && alpha >= 0 && alpha < 1)) throw new ExplainError('invalid_option', `alpha must be in [0, 1); got ${String(alpha)}.`);
  const preset = checkPreset(options.preset ?? model.preset ?? 'imagenet');
  await platform.ensureBackend();
  const given = options.image;
  const decoded = given instanceof tf.Tensor ? given : await platform.decodeImage(given as Image, signal as AbortSignal | undefined);
  const { input, display } = await prepareInput(decoded, preset, model.inputShape);
  try {
    throwIfAborted(signal);
    const named = (await resolveLabels(options.labels, (where) => platform.readLabels(where, signal))) ?? model.labels;
    const predictions = await predictClasses(model, input, named, 5);
    const resolve = (name: string) => model.resolveLayer?.(name) ?? name;
    const explanation = await camExplain(model, input, {
      target: options.target,
      layer: options.layer === undefined ? undefined : resolve(options.layer),
      layers: options.layers?.map(resolve),
      threshold: options.threshold,
      smooth: options.seed === undefined ? undefined : { seed: options.seed },
      onProgress: options.onProgress,
      signal,
    });
    const target = explanation.target;
    const targetLabel = named?.name(target) ?? (predictions.find((p) => p.index === target)?.label ?? `class ${target}`);
    const overlay = (map: CamMap) => overlayMask(display, map, { alpha });
    const shown = (map: CamMap, colormap?: string) => upscale(colorizeMap(map, colormap), display.height, display.width);
    const rows: PanelSpec[][] = [
      [
        { image: shown(explanation.smoothGradCamPP), title: `SmoothGradCAM++ ${explanation.layer}` },
        { image: overlay(explanation.smoothGradCamPP), title: `${explanation.layer} on the photo` },
      ],
      [
        { image: shown(explanation.layerCam), title: `LayerCAM ${explanation.maskLayer}` },
        { image: shown(explanation.localisationMask, 'gray'), title: `${explanation.maskLayer} ≥ ${options.threshold ?? 0.5}` },
      ],
    ];
    if (explanation.fused) {
      const fusedName = explanation.layers.join(' + ');
      rows.push([
        ...explanation.layerMaps.map((map, i) => ({ image: shown(map), title: explanation.layers[i] })),
        { image: shown(explanation.fused), title: fusedName },
        { image: overlay(explanation.fused), title: `${fusedName} on the photo` },
      ]);
    }
    const figures: F[] = [];
    for (const panels of rows) {
      throwIfAborted(signal);
      figures.push(await platform.drawPanels(panels));
    }
    return { predictions, target, targetLabel, explanation, figures };
  } finally {
    input.dispose();
  }
}

