import type * as tf from '@tensorflow/tfjs-core';
import {
  ExplainError,
  parseLabels,
  predictClasses,
  runMethod,
  type Labels,
  type MethodName,
  type MethodSettings,
  type Model,
  type Prediction,
} from '@easy-explain/core';
import { makePanels, predictionName, renderFigure, type VisMethod, type VisSign } from '@easy-explain/viz';
import { decodeImage, type ImageSource } from './image.js';
import type { LoadedModel } from './model.js';
import { checkPreset, type PresetName } from './preset.js';
import { prepareInput } from './prepare.js';

export interface RunEasyExplainOptions extends MethodSettings {
  image: ImageSource;
  /** Labels, or a URL of a label JSON; default: the model's own. */
  labels?: Labels | string;
  totalPreds?: number;
  target?: number;
  method?: MethodName;
  visTypes?: VisMethod[][];
  visSigns?: VisSign[][];
  /** Preprocessing; default the model's own preset, else 'imagenet'. */
  preset?: PresetName;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface RunEasyExplainResult {
  predictions: Prediction[];
  target: number;
  attribution: tf.Tensor4D;
  parameters: Record<string, unknown>;
  /** One canvas per row of visTypes (OffscreenCanvas where available). */
  figures: (OffscreenCanvas | HTMLCanvasElement)[];
}

function newCanvas(width: number, height: number): OffscreenCanvas | HTMLCanvasElement {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(width, height);
  return Object.assign(document.createElement('canvas'), { width, height });
}

async function resolveLabels(labels: Labels | string | undefined, model: Model): Promise<Labels | undefined> {
  if (labels === undefined) return (model as Partial<LoadedModel>).labels;
  if (typeof labels !== 'string') return labels;
  const response = await fetch(labels).catch((cause: unknown) => {
    throw new ExplainError('invalid_labels', `Could not download the labels at ${labels}.`, { cause });
  });
  if (!response.ok) throw new ExplainError('invalid_labels', `Could not download the labels at ${labels}: HTTP ${response.status}.`);
  return parseLabels(await response.json());
}

/**
 * easy-explain's one call, in the browser: top-k predictions, one attribution, one figure per row of
 * visTypes/visSigns drawn by viz. Runs on the calling thread: call it from a worker (or use ExplainWorkerClient)
 * for long attributions.
 */
export async function runEasyExplain(model: Model, options: RunEasyExplainOptions): Promise<RunEasyExplainResult> {
  const visTypes = options.visTypes ?? [['blended_heat_map', 'original_image']];
  const visSigns = options.visSigns ?? [['all', 'all']];
  if (visTypes.length !== visSigns.length || visTypes.some((row, i) => row.length !== visSigns[i].length)) {
    throw new ExplainError('invalid_option', 'visTypes and visSigns must have the same rows of the same lengths.');
  }
  const labels = await resolveLabels(options.labels, model);
  const preset = checkPreset(options.preset ?? (model as Partial<LoadedModel>).preset ?? 'imagenet');
  const image = await decodeImage(options.image);
  const { input, display } = await prepareInput(image, preset, model.inputShape);
  try {
    const predictions = await predictClasses(model, input, labels, options.totalPreds ?? 5);
    const target = options.target ?? predictions[0].index;
    const { attribution, parameters } = await runMethod(
      options.method ?? 'occlusion',
      model,
      input,
      { target, onProgress: options.onProgress, signal: options.signal },
      options,
    );
    const [, h, w, c] = attribution.shape;
    const attr = { data: (await attribution.data()) as Float32Array, height: h, width: w, channels: c };
    const shown = { ...display, channels: 3 };
    const name = predictionName(labels ? labels.name(target) : `class ${target}`);
    const figures = visTypes.map((row, r) => {
      const panels = makePanels(attr, shown, row.map((method, i) => ({ method, sign: visSigns[r][i] })), { label: name });
      return renderFigure(newCanvas, panels);
    });
    return { predictions, target, attribution, parameters, figures };
  } finally {
    input.dispose();
  }
}
