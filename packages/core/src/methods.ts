// The method table: every attribution method runEasyExplain, the CLI and the web worker can run, by name, with its
// defaults, its options in Captum's names (camelCase) and one place that checks them. Adding a method is one entry.
import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from './errors.js';
import type { Model } from './model.js';
import type { AbortSignalLike } from './platform.js';
import type { Attributor, AttributeOptions } from './attributors/attributor.js';
import { checkWindows, Occlusion, type Shape3 } from './attributors/occlusion.js';
import { IntegratedGradients, INTEGRATION_METHODS, type IntegrationMethod } from './attributors/integrated-gradients.js';
import { Saliency } from './attributors/saliency.js';
import { GuidedBackprop } from './attributors/guided-backprop.js';
import { LayerGradCam, type InterpolateMode } from './attributors/layer-grad-cam.js';
import { GuidedGradCam } from './attributors/guided-grad-cam.js';
import { NoiseTunnel, NOISE_TUNNEL_TYPES, type NoiseTunnelType } from './attributors/noise-tunnel.js';
import { PYTORCH_GRAD_CAM_METHODS, type PytorchGradCamName } from './attributors/cam/methods.js';
import { checkWorkers } from './attributors/forward-workers.js';

/** Options of Occlusion as the table takes them; 2-element windows and strides cover all channels. */
export interface OcclusionMethodOptions {
  /** Window [h, w] (all channels) or [h, w, c]; default [45, 45] as easy-explain. */
  slidingWindowShapes?: [number, number] | Shape3;
  /** Step: one number for h and w, [sh, sw], or [sh, sw, sc]; default 9 as easy-explain (channels: the window's). */
  strides?: number | [number, number] | Shape3;
  /** Value of an occluded window; default 0. */
  baselines?: number;
  /** Occluded copies per forward batch; default from the input size. Does not change the result. */
  perturbationsPerEval?: number;
  /** Worker threads: 'auto' (default here: the host's cores, up to 4) or a count; 1 runs in the caller's thread. */
  workers?: 'auto' | number;
  /** Exact incremental inference (default true), see OcclusionOptions.incremental. */
  incremental?: boolean | { approximate?: { tau: number } };
}

export interface IntegratedGradientsMethodOptions {
  /** Integration steps; default 50. */
  nSteps?: number;
  /** Approximation method; default 'gausslegendre'. */
  method?: IntegrationMethod;
  /** Baseline value; default 0. */
  baselines?: number;
  /** Scaled inputs per gradient batch; default from the input size. */
  internalBatchSize?: number;
}

export interface SaliencyMethodOptions {
  /** Absolute gradients; default true (Captum). */
  abs?: boolean;
}

export interface GradCamMethodOptions {
  /** Layer to explain; default the last 4-D activation before global pooling. */
  layer?: string;
  /** ReLU the map; default false (Captum). */
  reluAttributions?: boolean;
  /** How the layer map is resized to the input; default 'bilinear'. */
  interpolateMode?: InterpolateMode;
}

export interface LayerGradCamMethodOptions {
  layer?: string;
  reluAttributions?: boolean;
  /** Resize the layer map with LayerGradCam.interpolate; default: return the layer-sized map [N,h,w,1]. */
  interpolate?: { size: [number, number]; mode: InterpolateMode };
}

export interface GuidedGradCamMethodOptions {
  layer?: string;
  /** default 'nearest' (Captum). */
  interpolateMode?: InterpolateMode;
}

/** A gradient method a noise tunnel wraps, with its own options (as the table takes them). */
export type NoiseTunnelInner =
  | { method: 'integrated_gradients'; options?: IntegratedGradientsMethodOptions }
  | { method: 'saliency'; options?: SaliencyMethodOptions }
  | { method: 'guided_backprop'; options?: Record<string, never> };

export interface NoiseTunnelMethodOptions {
  /** The method run on the noisy copies; default saliency. */
  inner?: NoiseTunnelInner;
  ntType?: NoiseTunnelType;
  /** default 5 (Captum). */
  ntSamples?: number;
  ntSamplesBatchSize?: number;
  /** Absolute standard deviation of the noise; default 1 (Captum). */
  stdevs?: number;
  seed?: number;
  /** The noise itself (tests), [N·ntSamples,H,W,C]. */
  noise?: tf.Tensor4D;
}

export interface SmoothGradMethodOptions extends SaliencyMethodOptions {
  /** Noisy samples; default 20. */
  ntSamples?: number;
  /** Noisy copies per gradient batch; default 10. */
  ntSamplesBatchSize?: number;
  /** Absolute noise standard deviation; default 0.15 × (max − min) of the input (SmoothGrad's 15 %). */
  stdevs?: number;
  /** Noise seed; default 0, so runs repeat. */
  seed?: number;
}

/** Options of the CAM family (pytorch-grad-cam's definitions) in the table. */
export interface CamMethodOptions {
  /** Layer to explain; default the last spatial layer before global pooling. */
  layer?: string;
  /** pytorch-grad-cam's eigen_smooth; default false. */
  eigenSmooth?: boolean;
  /** score_cam / ablation_cam: copies per forward pass; default the library's (16 / 32). */
  batchSize?: number;
  /**
   * score_cam / ablation_cam: worker threads for the forward batches, 'auto' (default here: the host's cores, up to
   * 4) or a count; 1 runs in the caller's thread. The map is identical either way (see ScoreCamOptions.workers).
   */
  workers?: 'auto' | number;
}

/** Options of every method in the table, by name. */
export interface MethodOptionsByName {
  occlusion: OcclusionMethodOptions;
  integrated_gradients: IntegratedGradientsMethodOptions;
  saliency: SaliencyMethodOptions;
  guided_backprop: Record<string, never>;
  grad_cam: GradCamMethodOptions;
  guided_grad_cam: GuidedGradCamMethodOptions;
  smoothgrad: SmoothGradMethodOptions;
  layer_grad_cam: LayerGradCamMethodOptions;
  noise_tunnel: NoiseTunnelMethodOptions;
  grad_cam_plusplus: CamMethodOptions;
  hires_cam: CamMethodOptions;
  grad_cam_element_wise: CamMethodOptions;
  xgrad_cam: CamMethodOptions;
  layer_cam: CamMethodOptions;
  eigen_cam: CamMethodOptions;
  eigen_grad_cam: CamMethodOptions;
  score_cam: CamMethodOptions;
  ablation_cam: CamMethodOptions;
}
export type TableMethodName = keyof MethodOptionsByName;
/** Options of any method (what runMethod takes when the name is not known statically). */
export type MethodOptions = MethodOptionsByName[TableMethodName];

/** What a run gets besides the method's own options. */
export interface MethodRun {
  target: number | number[];
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignalLike;
  /** Told when a fast path cannot be used (e.g. incremental occlusion off), and why. */
  onWarning?: (message: string) => void;
  /** Occlusion: evaluate a coarse grid of windows first (see AblationOptions.progressive). */
  progressive?: boolean;
  /** Occlusion: the map so far (NHWC, the input's shape), after the coarse grid, then at most every 100 ms, and at the end (see AblationOptions.onPartial). */
  onPartial?: (map: Float32Array, done: number, total: number) => void;
  /** Occlusion: the least time between two partial maps after the coarse one, ms (see AblationOptions.partialIntervalMs). */
  partialIntervalMs?: number;
}

export interface MethodResult {
  /** [N,H,W,C] for input-sized methods, [N,h,w,1] for layer maps; the caller disposes it. */
  attribution: tf.Tensor4D;
  /** The options used, defaults filled in, plus what the run found (layer chosen, convergence delta, workers). */
  parameters: Record<string, unknown>;
}

export interface MethodEntry<O> {
  /** How figures and menus name it. */
  title: string;
  /** 'input': the result has the input's shape; 'layer': a layer map [N,h,w,1]. */
  output: 'input' | 'layer';
  /** Offered by the CLI's --method, runEasyExplain and the demo (the others exist for parity checks). */
  listed: boolean;
  /** Fills in defaults and checks every option against the input shape [N,H,W,C]; throws ExplainError. */
  resolve(options: O, inputShape: readonly number[]): O;
  /** Runs on options that `resolve` returned. */
  run(model: Model, input: tf.Tensor4D, options: O, run: MethodRun): Promise<MethodResult>;
}

const oneOf = <T extends string>(value: T | undefined, allowed: readonly T[], name: string): T | undefined => {
  if (value !== undefined && !allowed.includes(value)) {
    throw new ExplainError('invalid_option', `${name} must be one of ${allowed.join(', ')}; got ${String(value)}.`);
  }
  return value;
};

function positive(value: number | undefined, name: string): number | undefined {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
    throw new ExplainError('invalid_option', `${name} must be a positive integer; got ${String(value)}.`);
  }
  return value;
}

function finiteNumber(value: number | undefined, name: string): number | undefined {
  if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value))) {
    throw new ExplainError('invalid_option', `${name} must be a finite number; got ${String(value)}.`);
  }
  return value;
}

function checkInterpolate(mode: InterpolateMode | undefined): InterpolateMode | undefined {
  return oneOf(mode, ['nearest', 'bilinear'] as const, 'interpolateMode');
}

/** A [N,h,w,1] map resized to the input and spread over its C channels as map/C, so the channel sum is the map. */
function spreadOverInput(map: tf.Tensor4D, input: tf.Tensor4D, mode: InterpolateMode): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = input.shape;
    const resized = LayerGradCam.interpolate(map, [h, w], mode);
    return tf.broadcastTo(tf.div(resized, c), [n, h, w, c]) as tf.Tensor4D;
  });
}

/** Occlusion's window and strides as triples over an input [N,H,W,C], with easy-explain's defaults. */
export function occlusionWindows(options: OcclusionMethodOptions, inputShape: readonly number[]): { window: Shape3; strides: Shape3 } {
  const [, h, w, c] = inputShape;
  const given = options.slidingWindowShapes ?? [45, 45];
  if (!Array.isArray(given) || (given.length !== 2 && given.length !== 3)) {
    throw new ExplainError('invalid_window', `slidingWindowShapes must be [h, w] or [h, w, c]; got ${JSON.stringify(given)}.`);
  }
  const window = (given.length === 2 ? [given[0], given[1], c] : given) as Shape3;
  const s = options.strides ?? 9;
  let strides: Shape3;
  if (typeof s === 'number') strides = [s, s, window[2]];
  else if (Array.isArray(s) && s.length === 2) strides = [s[0], s[1], window[2]];
  else strides = s as Shape3;
  return checkWindows([h, w, c], window, strides);
}

const NOISE_TUNNEL_INNER = ['integrated_gradients', 'saliency', 'guided_backprop'] as const;

/** The inner method of a noise tunnel as an Attributor, run through its own table entry. */
function innerAttributor(model: Model, inner: NoiseTunnelInner, inputShape: readonly number[]): Attributor {
  const entry = methodEntry(inner.method);
  const options = entry.resolve((inner.options ?? {}) as MethodOptions, inputShape);
  return { attribute: async (x, run: AttributeOptions) => (await entry.run(model, x, options, run)).attribution };
}

/**
 * A pytorch-grad-cam method as a table entry: its `final` map (min-max scaled, resized to the input) spread over the
 * input's C channels as map/C, so the channel sum that visualisation takes is the library's output; `parameters`
 * record the layer and the raw map's shape.
 */
function camEntry(name: PytorchGradCamName, title: string, forwardOnly = false): MethodEntry<CamMethodOptions> {
  return {
    title,
    output: 'input',
    listed: true,
    resolve: (options) => ({
      layer: options.layer,
      eigenSmooth: options.eigenSmooth ?? false,
      batchSize: positive(options.batchSize, 'batchSize'),
      ...(forwardOnly && { workers: checkWorkers(options.workers ?? 'auto') }),
    }),
    async run(model, input, options, run) {
      const cam = new PYTORCH_GRAD_CAM_METHODS[name](model, options.layer);
      const { raw, final } = await cam.explain(input, { ...options, target: run.target, onProgress: run.onProgress, signal: run.signal, onWarning: run.onWarning });
      try {
        const c = input.shape[3];
        const attribution = tf.tidy(() => tf.broadcastTo(tf.div(final, c), input.shape) as tf.Tensor4D);
        // Forward-only CAMs record where their batches ran: 'auto' resolves per host and per model.
        const ran = 'ranOn' in cam ? { workers: cam.ranOn.parallel, ranOn: cam.ranOn.runsOn } : {};
        const parameters = { ...options, ...ran, layer: cam.layer, layerIsDefault: cam.layerIsDefault, mapShape: raw.shape, library: 'pytorch-grad-cam', className: name };
        return { attribution, parameters };
      } finally {
        tf.dispose([raw, final]);
      }
    },
  };
}

/** The table. Defaults are the same on every path that runs a method by name. */
export const METHODS: { readonly [K in TableMethodName]: MethodEntry<MethodOptionsByName[K]> } = {
  occlusion: {
    title: 'Occlusion',
    output: 'input',
    listed: true,
    resolve(options, inputShape) {
      const { window, strides } = occlusionWindows(options, inputShape);
      const workers = checkWorkers(options.workers ?? 'auto');
      return {
        slidingWindowShapes: window,
        strides,
        baselines: finiteNumber(options.baselines, 'baselines') ?? 0,
        perturbationsPerEval: positive(options.perturbationsPerEval, 'perturbationsPerEval'),
        workers,
        incremental: options.incremental ?? true,
      };
    },
    async run(model, input, options, run) {
      const occlusion = new Occlusion(model);
      const attribution = await occlusion.attribute(input, { ...run, ...options, slidingWindowShapes: options.slidingWindowShapes as Shape3, strides: options.strides as Shape3 });
      // The threads actually used: 'auto' resolves per host, and models without workers use one.
      return { attribution, parameters: { ...options, workers: occlusion.workers } };
    },
  },
  integrated_gradients: {
    title: 'Integrated Gradients',
    output: 'input',
    listed: true,
    resolve(options) {
      return {
        nSteps: positive(options.nSteps, 'nSteps') ?? 50,
        method: oneOf(options.method, INTEGRATION_METHODS, 'method (the integration method)') ?? 'gausslegendre',
        baselines: finiteNumber(options.baselines, 'baselines') ?? 0,
        internalBatchSize: positive(options.internalBatchSize, 'internalBatchSize'),
      };
    },
    async run(model, input, options, run) {
      const { attribution, delta } = await new IntegratedGradients(model).attributeWithDelta(input, { ...run, ...options });
      return { attribution, parameters: { ...options, convergenceDelta: delta } };
    },
  },
  saliency: {
    title: 'Saliency',
    output: 'input',
    listed: true,
    resolve: (options) => ({ abs: options.abs ?? true }),
    async run(model, input, options, run) {
      return { attribution: await new Saliency(model).attribute(input, { ...run, ...options }), parameters: { ...options } };
    },
  },
  guided_backprop: {
    title: 'Guided Backprop',
    output: 'input',
    listed: true,
    resolve: () => ({}),
    async run(model, input, _options, run) {
      return { attribution: await new GuidedBackprop(model).attribute(input, run), parameters: {} };
    },
  },
  grad_cam: {
    title: 'Grad-CAM',
    output: 'input',
    listed: true,
    resolve: (options) => ({
      layer: options.layer,
      reluAttributions: options.reluAttributions ?? false,
      interpolateMode: checkInterpolate(options.interpolateMode) ?? 'bilinear',
    }),
    // The layer map [N,h,w,1] is resized to H×W and spread over the C channels as map/C, so the channel sum that
    // visualisation takes is the resized Grad-CAM map.
    async run(model, input, options, run) {
      const gradCam = new LayerGradCam(model, options.layer);
      const map = await gradCam.attribute(input, { ...run, reluAttributions: options.reluAttributions });
      try {
        const attribution = spreadOverInput(map, input, options.interpolateMode!);
        const parameters = { ...options, layer: gradCam.layer, layerIsDefault: gradCam.layerIsDefault, mapShape: map.shape };
        return { attribution, parameters };
      } finally {
        map.dispose();
      }
    },
  },
  guided_grad_cam: {
    title: 'Guided Grad-CAM',
    output: 'input',
    listed: true,
    resolve: (options) => ({ layer: options.layer, interpolateMode: checkInterpolate(options.interpolateMode) ?? 'nearest' }),
    async run(model, input, options, run) {
      const guided = new GuidedGradCam(model, options.layer);
      const attribution = await guided.attribute(input, { ...run, interpolateMode: options.interpolateMode });
      return { attribution, parameters: { ...options, layer: guided.layer } };
    },
  },
  smoothgrad: {
    title: 'SmoothGrad',
    output: 'input',
    listed: true,
    resolve: (options) => ({
      abs: options.abs ?? true,
      ntSamples: positive(options.ntSamples, 'ntSamples') ?? 20,
      ntSamplesBatchSize: positive(options.ntSamplesBatchSize, 'ntSamplesBatchSize') ?? 10,
      stdevs: finiteNumber(options.stdevs, 'stdevs'),
      seed: finiteNumber(options.seed, 'seed') ?? 0,
    }),
    async run(model, input, options, run) {
      let stdevs = options.stdevs;
      if (stdevs === undefined) {
        const range = tf.tidy(() => tf.sub(tf.max(input), tf.min(input)));
        stdevs = 0.15 * (await range.data())[0];
        range.dispose();
      }
      const tunnel = { ...options, ntType: 'smoothgrad' as const, stdevs };
      const attribution = await new NoiseTunnel(new Saliency(model)).attribute(input, { ...run, ...tunnel });
      return { attribution, parameters: tunnel };
    },
  },
  layer_grad_cam: {
    title: 'Layer Grad-CAM',
    output: 'layer',
    listed: false,
    resolve: (options) => ({
      layer: options.layer,
      reluAttributions: options.reluAttributions ?? false,
      interpolate: options.interpolate && { size: options.interpolate.size, mode: checkInterpolate(options.interpolate.mode)! },
    }),
    async run(model, input, options, run) {
      const cam = new LayerGradCam(model, options.layer);
      const map = await cam.attribute(input, { ...run, reluAttributions: options.reluAttributions });
      const parameters = { ...options, layer: cam.layer, mapShape: map.shape };
      if (!options.interpolate) return { attribution: map, parameters };
      try {
        return { attribution: LayerGradCam.interpolate(map, options.interpolate.size, options.interpolate.mode), parameters };
      } finally {
        map.dispose();
      }
    },
  },
  noise_tunnel: {
    title: 'NoiseTunnel',
    output: 'input',
    listed: false,
    resolve(options) {
      const inner = options.inner ?? { method: 'saliency' };
      oneOf(inner.method, NOISE_TUNNEL_INNER, 'inner.method (the method a noise tunnel wraps)');
      return {
      ...options,
      inner,
      ntType: oneOf(options.ntType, NOISE_TUNNEL_TYPES, 'ntType') ?? 'smoothgrad',
      };
    },
    async run(model, input, options, run) {
      const { inner, noise, ...rest } = options;
      const attribution = await new NoiseTunnel(innerAttributor(model, inner!, input.shape)).attribute(input, { ...run, ...rest, noise });
      return { attribution, parameters: { ...rest, inner, injectedNoise: !!noise } };
    },
  },
  grad_cam_plusplus: camEntry('GradCAMPlusPlus', 'Grad-CAM++'),
  hires_cam: camEntry('HiResCAM', 'HiResCAM'),
  grad_cam_element_wise: camEntry('GradCAMElementWise', 'Grad-CAM element-wise'),
  xgrad_cam: camEntry('XGradCAM', 'XGrad-CAM'),
  layer_cam: camEntry('LayerCAM', 'LayerCAM'),
  eigen_cam: camEntry('EigenCAM', 'EigenCAM'),
  eigen_grad_cam: camEntry('EigenGradCAM', 'EigenGrad-CAM'),
  score_cam: camEntry('ScoreCAM', 'Score-CAM', true),
  ablation_cam: camEntry('AblationCAM', 'Ablation-CAM', true),
};

/** The methods offered to users (CLI --method, runEasyExplain, the demo), in menu order. */
export const METHOD_NAMES = (Object.keys(METHODS) as TableMethodName[]).filter((name) => METHODS[name].listed) as readonly MethodName[];
/** A method offered to users. */
export type MethodName = Exclude<TableMethodName, 'layer_grad_cam' | 'noise_tunnel'>;

/** The table's entry for `name`, or an ExplainError listing the methods. */
export function methodEntry(name: string): MethodEntry<MethodOptions> {
  const entry = (METHODS as Record<string, MethodEntry<MethodOptions>>)[name];
  if (!entry || !Object.hasOwn(METHODS, name)) {
    throw new ExplainError('invalid_option', `Unknown method "${String(name)}"; use one of: ${METHOD_NAMES.join(', ')}.`);
  }
  return entry;
}

/** A method's options with defaults filled in, checked against an input shape [N,H,W,C]. */
export function resolveMethodOptions<K extends TableMethodName>(name: K, options: MethodOptionsByName[K] | undefined, inputShape: readonly number[]): MethodOptionsByName[K] {
  return methodEntry(name).resolve((options ?? {}) as MethodOptions, inputShape) as MethodOptionsByName[K];
}

/**
 * Runs one attribution method by name. `options` are the method's own (Captum's names); they are resolved and
 * checked here unless `resolved` says a caller did it already (runEasyExplain checks before predicting).
 * The caller disposes the attribution.
 *
 * @example
 * ```ts
 * const { attribution, parameters } = await runMethod('integrated_gradients', model, input, { target: 285 }, { nSteps: 32 });
 * console.log(parameters.convergenceDelta);
 * attribution.dispose();
 * ```
 */
export async function runMethod<K extends TableMethodName>(
  name: K,
  model: Model,
  input: tf.Tensor4D,
  run: MethodRun,
  options?: MethodOptionsByName[K],
  resolved = false,
): Promise<MethodResult> {
  const entry = methodEntry(name);
  const ready = resolved ? (options ?? {}) : entry.resolve((options ?? {}) as MethodOptions, input.shape);
  return entry.run(model, input, ready as MethodOptions, run);
}
