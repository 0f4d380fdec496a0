import { access, constants, mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  checkWindows,
  ExplainError,
  indexLabels,
  occlusionSettings,
  parseLabels,
  predictClasses,
  runMethod,
  throwIfAborted,
  type Labels,
  type MethodName,
  type MethodSettings,
  type Model,
  type Prediction,
} from '@easy-explain/core';
import { predictionName, type HWC, type VisMethod, type VisSign } from '@easy-explain/viz';
import { ensureBackend } from './backend.js';
import { cappedWorkers } from './pool/pool.js';
import { drawRow, type Figure } from './figures.js';
import { decodeImage, type ImageSource, type RgbImage } from './image.js';
import { imagenetLabels, loadLabels } from './labels.js';
import type { LoadedModel } from './model.js';
import { checkPreset, prepareInput, type PresetName } from './preset.js';
import { checkVis, DEFAULT_VIS_SIGNS, DEFAULT_VIS_TYPES } from './vis.js';

export interface EasyExplainOptions extends MethodSettings {
  /** The photo: a path, a URL, encoded bytes, decoded RGB pixels, or a decoded [H,W,3] 0..255 tensor (not disposed). */
  image: ImageSource | RgbImage | tf.Tensor3D;
  /** How explanation.json names the image when it is given as bytes, pixels or a tensor. */
  imageName?: string;
  /** Class names: Labels, a label file path, or an array of names. Default: the model's own, else ImageNet's for 1000 classes. */
  labels?: Labels | string | readonly string[];
  /** How many predictions to report; default 5. */
  totalPreds?: number;
  /** Class to explain; default the top prediction. */
  target?: number;
  /**
   * Attribution method; default 'occlusion' with easy-explain's window 45, stride 9, baseline 0. Occlusion runs on
   * `workers` threads (default 'auto': the host's cores, up to 4; 1 = this thread); explanation.json records the count used.
   */
  method?: MethodName;
  /** Preprocessing; default the model's own preset, else 'imagenet' (easy-explain's torchvision recipe). */
  preset?: PresetName;
  /** One figure per row; default [['blended_heat_map', 'original_image']]. */
  visTypes?: VisMethod[][];
  /** Signs matching visTypes; default [['all', 'all']]. */
  visSigns?: VisSign[][];
  /** Percentage of attribution mass clipped as outliers in the figures; default 2 (Captum's). */
  outlierPerc?: number;
  /** Write figure-1.png, … and explanation.json into this folder (created if needed). */
  outDir?: string;
  /** Called once the predictions are known, before the attribution starts. */
  onPredictions?: (predictions: Prediction[], target: number) => void;
  onProgress?: (done: number, total: number) => void;
  /**
   * Occlusion: called with the map so far ([1,h,w,C] values), first once a coarse grid of windows is in (about a
   * tenth of the work), then after each batch. The final attribution is the same as without it.
   */
  onPartial?: (map: Float32Array, done: number, total: number) => void;
  /** Told about figures with nothing to show (e.g. sign 'negative' where no attribution is negative). */
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
  /** Extra facts recorded in explanation.json (e.g. the CLI's model load time). */
  record?: { timings?: Record<string, number>; [key: string]: unknown };
}

export interface EasyExplainResult {
  predictions: Prediction[];
  target: number;
  targetLabel: string;
  /** [1,h,w,C] attribution for the model input; the caller disposes it. */
  attribution: tf.Tensor4D;
  figures: Figure[];
  /** Files written under outDir (figures first, explanation.json last). */
  files?: string[];
  /** What explanation.json holds. */
  explanation: Explanation;
}

export interface Explanation {
  tool: string;
  createdAt: string;
  image: { source: string; width: number; height: number };
  model: { source: string; format?: string; outputKind: string; inputShape?: number[]; preset: PresetName; classes: number };
  backend: string;
  predictions: Prediction[];
  target: { index: number; label: string };
  method: { name: MethodName; parameters: Record<string, unknown> };
  figures: { file?: string; methods: VisMethod[]; signs: VisSign[]; titles: string[]; width: number; height: number }[];
  timings: Record<string, number>;
  [key: string]: unknown;
}

function isLoaded(model: Model): model is LoadedModel {
  return typeof (model as Partial<LoadedModel>).source === 'string';
}

async function resolveLabels(labels: EasyExplainOptions['labels'], model: Model): Promise<Labels | undefined> {
  if (typeof labels === 'string') return loadLabels(labels);
  if (Array.isArray(labels)) return parseLabels(labels);
  if (labels) return labels as Labels;
  return isLoaded(model) ? model.labels : undefined;
}

function isRgb(image: EasyExplainOptions['image']): image is RgbImage {
  const i = image as Partial<RgbImage>;
  return typeof i === 'object' && i !== null && i.data instanceof Uint8Array && typeof i.height === 'number' && typeof i.width === 'number';
}

function describeImage(image: EasyExplainOptions['image']): string {
  if (typeof image === 'string') return /^[a-z][a-z0-9+.-]*:\/\//i.test(image) ? image : resolve(image);
  if (image instanceof URL) return image.href;
  return image instanceof tf.Tensor ? 'tensor' : isRgb(image) ? 'pixels' : 'bytes';
}

async function toHWC(t: tf.Tensor4D, asBytes: boolean): Promise<HWC> {
  const [, height, width, channels] = t.shape;
  const values = (await t.data()) as Float32Array;
  const data = asBytes ? Uint8Array.from(values, (v) => Math.round(Math.min(255, Math.max(0, v * 255)))) : values;
  return { data, height, width, channels };
}

const now = () => performance.now();
const ms = (t0: number) => Math.round(now() - t0);

/**
 * easy-explain's one call: top-k predictions, the attribution of the target (default the top class) by Occlusion
 * with easy-explain's setting unless told otherwise, and one figure per row of visTypes/visSigns titled as
 * easy-explain titles them. With outDir, writes figure-N.png and explanation.json. Leaves no tensor behind
 * except the returned attribution.
 */
export async function runEasyExplain(model: Model, options: EasyExplainOptions): Promise<EasyExplainResult> {
  const start = now();
  const { signal } = options;
  const visTypes = options.visTypes ?? DEFAULT_VIS_TYPES;
  const visSigns = options.visSigns ?? DEFAULT_VIS_SIGNS;
  checkVis(visTypes, visSigns);
  const totalPreds = options.totalPreds ?? 5;
  if (!Number.isInteger(totalPreds) || totalPreds < 1) {
    throw new ExplainError('invalid_option', `totalPreds must be a positive integer; got ${totalPreds}.`);
  }
  const method: MethodName = options.method ?? 'occlusion';
  const preset = checkPreset(options.preset ?? (isLoaded(model) ? model.preset : undefined) ?? 'imagenet');
  const backend = await ensureBackend();
  // A bad outDir is refused now, not after the attribution.
  if (options.outDir !== undefined) await prepareOutDir(options.outDir);
  const timings: Record<string, number> = { ...options.record?.timings };

  let t0 = now();
  let decoded: tf.Tensor3D;
  let imageSize: [number, number];
  if (options.image instanceof tf.Tensor) {
    decoded = options.image;
    imageSize = [decoded.shape[0], decoded.shape[1]];
  } else {
    const rgb = isRgb(options.image) ? options.image : await decodeImage(options.image, { signal });
    decoded = tf.tensor3d(rgb.data, [rgb.height, rgb.width, 3], 'int32');
    imageSize = [rgb.height, rgb.width];
  }
  let input: tf.Tensor4D | undefined;
  let display: tf.Tensor4D | undefined;
  try {
    ({ input, display } = prepareInput(decoded, preset, model.inputShape));
  } finally {
    if (!(options.image instanceof tf.Tensor)) decoded.dispose();
  }
  timings.decodeMs = ms(t0);

  let attribution: tf.Tensor4D | undefined;
  try {
    const [, h, w, c] = input.shape;
    if (method === 'occlusion') {
      const s = occlusionSettings(c, options);
      checkWindows([h, w, c], s.slidingWindowShapes, s.strides);
    }
    throwIfAborted(signal);

    t0 = now();
    const given = await resolveLabels(options.labels, model);
    // All classes ranked in one forward pass: their count picks default labels when none are given.
    const ranked = await predictClasses(model, input, given, Number.MAX_SAFE_INTEGER);
    // Without labels: ImageNet's names for a 1000-class model, else "class N".
    const labels = given ?? (ranked.length === 1000 ? imagenetLabels() : indexLabels(ranked.length));
    const predictions = ranked.slice(0, totalPreds).map((p) => ({ ...p, label: labels.name(p.index) }));
    const target = options.target ?? predictions[0].index;
    if (!Number.isInteger(target) || target < 0 || target >= labels.size) {
      throw new ExplainError('invalid_target', `Target ${target} is not a class of this model (0 to ${labels.size - 1}).`);
    }
    const targetLabel = labels.name(target);
    timings.predictMs = ms(t0);
    options.onPredictions?.(predictions, target);

    t0 = now();
    // Occlusion spreads over the host's cores unless told otherwise (models from loadModel can; others run here).
    // More workers than cores are lowered here, once, with a warning (each holds a copy of the model).
    const workers = method === 'occlusion' ? cappedWorkers(options.workers ?? 'auto', options.onWarning) : (options.workers ?? 'auto');
    const settings = { ...options, workers };
    const partial = options.onPartial ? { progressive: true, onPartial: options.onPartial } : {};
    const run = await runMethod(method, model, input, { target, onProgress: options.onProgress, signal, ...partial }, settings);
    attribution = run.attribution;
    timings.attributionMs = ms(t0);

    t0 = now();
    const attrHWC = await toHWC(attribution, false);
    const imageHWC = await toHWC(display, true);
    const figures: Figure[] = [];
    for (let r = 0; r < visTypes.length; r++) {
      throwIfAborted(signal);
      figures.push(
        await drawRow(attrHWC, imageHWC, visTypes[r], visSigns[r], predictionName(targetLabel), {
          outlierPerc: options.outlierPerc,
          onWarning: options.onWarning,
        }),
      );
    }
    timings.figuresMs = ms(t0);

    const { timings: _ignored, ...record } = options.record ?? {};
    const explanation: Explanation = {
      tool: 'easy-explain-ts',
      createdAt: new Date().toISOString(),
      image: { source: options.imageName ?? describeImage(options.image), width: imageSize[1], height: imageSize[0] },
      model: {
        source: isLoaded(model) ? model.source : 'in-memory',
        format: isLoaded(model) ? model.format : undefined,
        outputKind: model.outputKind,
        inputShape: model.inputShape,
        preset,
        classes: labels.size,
      },
      backend,
      predictions,
      target: { index: target, label: targetLabel },
      method: { name: method, parameters: jsonSafe(run.parameters) },
      figures: figures.map(({ png: _png, ...f }) => f),
      timings,
      ...record,
    };

    let files: string[] | undefined;
    if (options.outDir !== undefined) {
      t0 = now();
      files = await writeOutputs(options.outDir, figures, explanation, timings, start, t0);
    } else {
      timings.totalMs = ms(start);
    }
    return { predictions, target, targetLabel, attribution, figures, files, explanation };
  } catch (error) {
    attribution?.dispose();
    throw error;
  } finally {
    input.dispose();
    display?.dispose();
  }
}

/** Tensors in method parameters become their shape, so explanation.json stays small and valid. */
function jsonSafe(parameters: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parameters)) {
    if (v === undefined) continue;
    out[k] = v instanceof tf.Tensor ? { tensor: v.shape } : v;
  }
  return out;
}

/**
 * Creates the output folder if needed and checks it can be written, so a bad `outDir` is refused before the
 * attribution runs rather than after it. An ExplainError `invalid_option` says what is wrong.
 */
export async function prepareOutDir(outDir: string): Promise<string> {
  const dir = resolve(outDir);
  const refuse = (problem: string, cause?: unknown) =>
    new ExplainError('invalid_option', `The output folder ${dir} ${problem}; choose another with --out (outDir).`, { cause });
  try {
    await mkdir(dir, { recursive: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const problem =
      code === 'EEXIST' ? 'is a file, not a folder' : code === 'ENOTDIR' ? 'lies under a file, not a folder' : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? `cannot be created (${code}: no permission)` : `cannot be created (${code ?? String(cause)})`;
    throw refuse(problem, cause);
  }
  if (!(await stat(dir)).isDirectory()) throw refuse('is a file, not a folder');
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (cause) {
    throw refuse(`cannot be written (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, cause);
  }
  return dir;
}

async function writeOutputs(
  outDir: string,
  figures: Figure[],
  explanation: Explanation,
  timings: Record<string, number>,
  start: number,
  t0: number,
): Promise<string[]> {
  const dir = await prepareOutDir(outDir);
  const files: string[] = [];
  for (const [i, figure] of figures.entries()) {
    const file = join(dir, `figure-${i + 1}.png`);
    await writeFile(file, figure.png);
    explanation.figures[i].file = `figure-${i + 1}.png`;
    files.push(file);
  }
  timings.writeMs = ms(t0);
  timings.totalMs = ms(start);
  const json = join(dir, 'explanation.json');
  await writeFile(json, JSON.stringify(explanation, null, 2) + '\n');
  files.push(json);
  return files;
}
