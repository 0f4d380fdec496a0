// easy-explain's one call, once for both platforms: predict → target → attribute → figures data. A platform
// supplies only what is its own: decoding images, reading label files, drawing a figure, starting a backend.
import * as tf from '@tensorflow/tfjs-core';
import {
  ExplainError,
  indexLabels,
  METHOD_NAMES,
  METRIC_NAMES,
  predictClasses,
  runMethod,
  runMetric,
  type AbortSignalLike,
  type AnyMetricOptions,
  type MetricCurve,
  type MetricName,
  type MetricResult,
  type Labels,
  type MethodName,
  type MethodOptions,
  type Model,
  type Prediction,
  type PreprocessPreset,
} from '@easy-explain/core';
import { checkPreset, methodEntry, nowMs, throwIfAborted } from '@easy-explain/core/internal';
import { predictionName, type HWC, type PanelSpec, type VisMethod, type VisSign } from '@easy-explain/viz';
import { imagenetLabels, resolveLabels, type LabelsSource } from './labels.js';
import { prepareInput, type RgbImage } from './prepare.js';
import { checkVis, DEFAULT_VIS_SIGNS, DEFAULT_VIS_TYPES } from './vis.js';

/** What a loaded model may carry besides being a Model (both backends' loadModel set these). */
export interface ModelMetadata {
  /** Where it came from: a path, a URL, "files: …" or "memory". */
  readonly source?: string;
  readonly format?: string;
  /** The preprocessing that suits it. */
  readonly preset?: PreprocessPreset;
  /** Its own class names. */
  readonly labels?: Labels;
  /** Its own name for a layer (ONNX models: from an ONNX tensor or node name). */
  resolveLayer?(name: string): string;
}

/** The options of runEasyExplain, the same on both platforms; `Image` is what the platform can decode. */
export interface EasyExplainOptions<Image = unknown> {
  /** The photo: anything the platform decodes, or a decoded [H,W,3] 0..255 tensor (not disposed). */
  image: Image | tf.Tensor3D;
  /** How explanation.json names the image when it is given as bytes, pixels or a tensor. */
  imageName?: string;
  /** Class names: Labels, an array of names, or a label file (a path in Node, a URL in a browser). Default: the model's own, else ImageNet's for 1000 classes. */
  labels?: LabelsSource;
  /** How many predictions to report; default 5. */
  totalPreds?: number;
  /** Class to explain; default the top prediction. */
  target?: number;
  /** Attribution method; default 'occlusion' (easy-explain's window 45, stride 9, baseline 0, on 'auto' workers). */
  method?: MethodName;
  /** The method's options, in Captum's names (see the method table, `METHODS`); defaults as the table says. */
  methodOptions?: MethodOptions;
  /** Preprocessing; default the model's own preset, else 'imagenet' (easy-explain's torchvision recipe). */
  preset?: PreprocessPreset;
  /** One figure per row; default [['blended_heat_map', 'original_image']]. */
  visTypes?: VisMethod[][];
  /** Signs matching visTypes; default [['all', 'all']]. */
  visSigns?: VisSign[][];
  /** Percentage of attribution mass clipped as outliers in the figures; default 2 (Captum's). */
  outlierPerc?: number;
  /** Node only: write figure-1.png, … and explanation.json into this folder (checked before any work). */
  outDir?: string;
  /** Called once the predictions are known, before the attribution starts. */
  onPredictions?: (predictions: Prediction[], target: number) => void;
  onProgress?: (done: number, total: number) => void;
  /**
   * Occlusion: called with the map so far ([1,h,w,C] values), first once a coarse grid of windows is in (at most
   * 1/40 of the work), then after a batch at most every 100 ms (`PARTIAL_INTERVAL_MS`), and at the end. The final
   * attribution is the same as without it.
   */
  onPartial?: (map: Float32Array, done: number, total: number) => void;
  /** Occlusion: the least time between two partial maps after the first, in ms (default 100; `Infinity`: the coarse map and the final one only). */
  partialIntervalMs?: number;
  /**
   * Faithfulness metrics of the attribution, by name (`deletion`, `insertion`, `infidelity`, `sensitivity_max`,
   * `model_randomization`): their numbers go into the result and explanation.json; deletion and insertion curves are
   * drawn as one more figure.
   */
  metrics?: MetricName[];
  /** Options of the metrics (e.g. `steps` of deletion/insertion, `nPerturbSamples` of infidelity). */
  metricOptions?: Omit<AnyMetricOptions, 'target' | 'onProgress' | 'signal' | 'explain'>;
  /** Progress of each metric, as onProgress reports the attribution's. */
  onMetricProgress?: (metric: MetricName, done: number, total: number) => void;
  /** Told about slower fallbacks and figures with nothing to show. */
  onWarning?: (message: string) => void;
  signal?: AbortSignalLike;
  /** Extra facts recorded in explanation.json (e.g. the CLI's model load time). */
  record?: { timings?: Record<string, number>; [key: string]: unknown };
}

/** One figure row as both platforms describe it; each adds its picture (PNG bytes in Node, a canvas in a browser). */
export interface FigureInfo {
  methods: VisMethod[];
  signs: VisSign[];
  titles: string[];
  width: number;
  height: number;
}

/** What explanation.json holds. */
export interface Explanation {
  tool: string;
  createdAt: string;
  image: { source: string; width: number; height: number };
  model: { source: string; format?: string; outputKind: string; inputShape?: number[]; preset: PreprocessPreset; classes: number };
  backend: string;
  predictions: Prediction[];
  target: { index: number; label: string };
  method: { name: MethodName; parameters: Record<string, unknown> };
  figures: Array<FigureInfo & { file?: string }>;
  /** The metrics asked for: one value per image, and deletion/insertion curves. */
  metrics?: Partial<Record<MetricName, { values: number[]; curves?: Array<Pick<MetricCurve, 'x' | 'y' | 'auc'>> }>>;
  timings: Record<string, number>;
  [key: string]: unknown;
}

export interface EasyExplainResult<F extends FigureInfo = FigureInfo> {
  predictions: Prediction[];
  target: number;
  targetLabel: string;
  /** [1,h,w,C] attribution for the model input; the caller disposes it. */
  attribution: tf.Tensor4D;
  figures: F[];
  /** The metrics asked for, as the metric functions return them. */
  metrics?: Partial<Record<MetricName, MetricResult>>;
  /** The deletion/insertion curves drawn side by side, when either metric ran. */
  metricFigure?: F;
  /** Files written under outDir (Node; figures first, explanation.json last). */
  files?: string[];
  explanation: Explanation;
}

/** What a platform gives the pipeline. */
export interface ExplainPlatform<Image, F extends FigureInfo> {
  /** The tool's name and version, for explanation.json. */
  readonly tool: string;
  /** Starts the platform's default backend unless one is set up; returns its name. */
  ensureBackend(): Promise<string>;
  decodeImage(image: Image, signal?: AbortSignalLike): Promise<RgbImage>;
  /** How explanation.json names an image given this way. */
  describeImage(image: Image): string;
  /** Reads labels a caller named by a string (a file in Node, a URL in a browser). */
  readLabels(where: string, signal?: AbortSignalLike): Promise<Labels>;
  /** Draws panels side by side as one figure (CAMExplain's rows). */
  drawPanels(panels: readonly PanelSpec[]): Promise<F>;
  /** Draws deletion/insertion curves side by side as one figure. */
  drawCurves(curves: MetricCurve[]): Promise<F>;
  drawFigure(
    attribution: HWC,
    image: HWC,
    methods: VisMethod[],
    signs: VisSign[],
    title: string,
    options: { outlierPerc?: number; onWarning?: (message: string) => void },
  ): Promise<F>;
}

const ms = (t0: number) => Math.round(nowMs() - t0);

/** Tensors in method parameters become their shape, so explanation.json stays small and valid. */
function jsonSafe(parameters: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parameters)) {
    if (v === undefined) continue;
    out[k] = v instanceof tf.Tensor ? { tensor: v.shape } : v;
  }
  return out;
}

/** What explanation.json keeps of each metric: its values, and the curves of deletion and insertion. */
function summariseMetrics(metrics: Partial<Record<MetricName, MetricResult>>): NonNullable<Explanation['metrics']> {
  const out: NonNullable<Explanation['metrics']> = {};
  for (const [name, result] of Object.entries(metrics) as Array<[MetricName, MetricResult & { curves?: MetricCurve[] }]>) {
    out[name] = { values: result.values, ...(result.curves && { curves: result.curves.map(({ x, y, auc }) => ({ x, y, auc })) }) };
  }
  return out;
}

/** The checks that need no image: they fail before anything is decoded, downloaded or run. */
export function checkExplainOptions(options: EasyExplainOptions): { method: MethodName; totalPreds: number; visTypes: VisMethod[][]; visSigns: VisSign[][] } {
  const visTypes = options.visTypes ?? DEFAULT_VIS_TYPES;
  const visSigns = options.visSigns ?? DEFAULT_VIS_SIGNS;
  checkVis(visTypes, visSigns);
  const totalPreds = options.totalPreds ?? 5;
  if (!Number.isInteger(totalPreds) || totalPreds < 1) {
    throw new ExplainError('invalid_option', `totalPreds must be a positive integer; got ${totalPreds}.`);
  }
  const method = options.method ?? 'occlusion';
  if (!METHOD_NAMES.includes(method)) {
    throw new ExplainError('invalid_option', `Unknown method "${String(method)}"; use one of: ${METHOD_NAMES.join(', ')}.`);
  }
  if (options.preset !== undefined) checkPreset(options.preset);
  for (const metric of options.metrics ?? []) {
    if (!METRIC_NAMES.includes(metric)) {
      throw new ExplainError('invalid_option', `Unknown metric "${String(metric)}"; use one of: ${METRIC_NAMES.join(', ')}.`);
    }
  }
  return { method, totalPreds, visTypes, visSigns };
}

/**
 * easy-explain's one call on any platform: top-k predictions, the attribution of the target (default the top class)
 * by the method table's defaults unless told otherwise, and one figure per row of visTypes/visSigns titled as
 * easy-explain titles them. Leaves no tensor behind except the returned attribution. Writes nothing.
 *
 * @example
 * ```ts
 * // A platform gives decoding, label files and drawing; backend-node and backend-web each have one.
 * const result = await explainImage(platform, model, { image: 'cat.png', method: 'saliency', totalPreds: 3 });
 * ```
 */
export async function explainImage<Image, F extends FigureInfo>(
  platform: ExplainPlatform<Image, F>,
  model: Model & ModelMetadata,
  options: EasyExplainOptions<Image>,
): Promise<EasyExplainResult<F>> {
  const { signal } = options;
  const { method, totalPreds, visTypes, visSigns } = checkExplainOptions(options as EasyExplainOptions);
  const entry = methodEntry(method);
  const preset = checkPreset(options.preset ?? model.preset ?? 'imagenet');
  const backend = await platform.ensureBackend();
  const timings: Record<string, number> = { ...options.record?.timings };

  let t0 = nowMs();
  const given = options.image;
  const decoded = given instanceof tf.Tensor ? given : await platform.decodeImage(given as Image, signal);
  const imageSize = decoded instanceof tf.Tensor ? [decoded.shape[0], decoded.shape[1]] : [decoded.height, decoded.width];
  const { input, display } = await prepareInput(decoded, preset, model.inputShape);
  timings.decodeMs = ms(t0);

  let attribution: tf.Tensor4D | undefined;
  try {
    // Options are resolved and checked once, against the real input, before the predictions are computed.
    const asked = options.methodOptions as { layer?: unknown } | undefined;
    // Layers may be named as the model's source names them (an ONNX tensor name); the table takes the model's own.
    const layered = typeof asked?.layer === 'string' && model.resolveLayer ? { ...asked, layer: model.resolveLayer(asked.layer) } : asked;
    const methodOptions = entry.resolve((layered ?? {}) as MethodOptions, input.shape);
    throwIfAborted(signal);

    t0 = nowMs();
    const named = (await resolveLabels(options.labels, (where) => platform.readLabels(where, signal))) ?? model.labels;
    // All classes ranked in one forward pass: their count picks default labels when none are given.
    const ranked = await predictClasses(model, input, named, Number.MAX_SAFE_INTEGER);
    const labels = named ?? (ranked.length === 1000 ? imagenetLabels() : indexLabels(ranked.length));
    const predictions = ranked.slice(0, totalPreds).map((p) => ({ ...p, label: labels.name(p.index) }));
    const target = options.target ?? predictions[0].index;
    if (!Number.isInteger(target) || target < 0 || target >= ranked.length) {
      throw new ExplainError('invalid_target', `Target ${target} is not a class of this model (0 to ${ranked.length - 1}).`);
    }
    const targetLabel = labels.name(target);
    timings.predictMs = ms(t0);
    options.onPredictions?.(predictions, target);

    t0 = nowMs();
    const partial = options.onPartial ? { progressive: true, onPartial: options.onPartial, partialIntervalMs: options.partialIntervalMs } : {};
    const run = { target, onProgress: options.onProgress, onWarning: options.onWarning, signal, ...partial };
    const result = await runMethod(method, model, input, run, methodOptions, true);
    attribution = result.attribution;
    timings.attributionMs = ms(t0);

    t0 = nowMs();
    const [, h, w, c] = attribution.shape;
    const attrHWC: HWC = { data: (await attribution.data()) as Float32Array, height: h, width: w, channels: c };
    const figures: F[] = [];
    for (let r = 0; r < visTypes.length; r++) {
      throwIfAborted(signal);
      figures.push(
        await platform.drawFigure(attrHWC, display, visTypes[r], visSigns[r], predictionName(targetLabel), {
          outlierPerc: options.outlierPerc,
          onWarning: options.onWarning,
        }),
      );
    }
    timings.figuresMs = ms(t0);

    let metrics: Partial<Record<MetricName, MetricResult>> | undefined;
    let metricFigure: F | undefined;
    if (options.metrics?.length) {
      t0 = nowMs();
      metrics = {};
      // sensitivity_max and model_randomization recompute the explanation: the same method and options.
      const explain = async (m: Model, x: tf.Tensor4D, o: { target: number[] }) => (await runMethod(method, m, x, { target: o.target, signal }, methodOptions, true)).attribution;
      for (const name of new Set(options.metrics)) {
        const onProgress = options.onMetricProgress && ((done: number, total: number) => options.onMetricProgress!(name, done, total));
        // Forward-only metrics (deletion, insertion) spread their batches over the model's workers unless told otherwise.
        const metricOptions = { workers: 'auto' as const, onWarning: options.onWarning, ...options.metricOptions };
        metrics[name] = await runMetric(name, model, input, attribution, { ...metricOptions, target, signal, onProgress, explain });
      }
      const curves = (['deletion', 'insertion'] as const).flatMap((name) => (metrics![name] as { curves?: MetricCurve[] } | undefined)?.curves ?? []);
      if (curves.length > 0) metricFigure = await platform.drawCurves(curves);
      timings.metricsMs = ms(t0);
    }

    const { timings: _ignored, ...record } = options.record ?? {};
    const explanation: Explanation = {
      tool: platform.tool,
      createdAt: new Date().toISOString(),
      image: {
        source: options.imageName ?? (given instanceof tf.Tensor ? 'tensor' : platform.describeImage(given as Image)),
        width: imageSize[1],
        height: imageSize[0],
      },
      model: {
        source: model.source ?? 'in-memory',
        format: model.format,
        outputKind: model.outputKind,
        inputShape: model.inputShape,
        preset,
        classes: ranked.length,
      },
      backend,
      predictions,
      target: { index: target, label: targetLabel },
      method: { name: method, parameters: jsonSafe(result.parameters) },
      figures: figures.map(({ methods, signs, titles, width, height }) => ({ methods, signs, titles, width, height })),
      ...(metrics && { metrics: summariseMetrics(metrics) }),
      timings,
      ...record,
    };
    return { predictions, target, targetLabel, attribution, figures, metrics, metricFigure, explanation };
  } catch (error) {
    attribution?.dispose();
    throw error;
  } finally {
    input.dispose();
  }
}
