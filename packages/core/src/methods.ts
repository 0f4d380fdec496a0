import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from './errors.js';
import type { Model } from './model.js';
import type { AbortSignalLike } from './platform.js';
import { Occlusion } from './attributors/occlusion.js';
import { IntegratedGradients, INTEGRATION_METHODS, type IntegrationMethod } from './attributors/integrated-gradients.js';
import { Saliency } from './attributors/saliency.js';
import { GuidedBackprop } from './attributors/guided-backprop.js';
import { LayerGradCam, type InterpolateMode } from './attributors/layer-grad-cam.js';
import { GuidedGradCam } from './attributors/guided-grad-cam.js';
import { NoiseTunnel } from './attributors/noise-tunnel.js';

/** The attribution methods `runEasyExplain` and the CLI can run, by their CLI names. */
export const METHOD_NAMES = [
  'occlusion',
  'integrated_gradients',
  'saliency',
  'guided_backprop',
  'grad_cam',
  'guided_grad_cam',
  'smoothgrad',
] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

/** Settings of `runMethod`, a flat union of the methods' most used options (CLI flags map onto these). */
export interface MethodSettings {
  /** Occlusion window side (square, all channels); default 45 as easy-explain. */
  window?: number;
  /** Occlusion stride (both spatial axes, all channels at once); default 9 as easy-explain. */
  stride?: number;
  /** Baseline value for occlusion / integrated gradients; default 0. */
  baseline?: number;
  /** Occluded copies per forward batch (default: from the input size). */
  perturbationsPerEval?: number;
  /** Occlusion: worker threads (see OcclusionOptions.workers); default 1 here, runEasyExplain and the CLI pass 'auto'. */
  workers?: 'auto' | number;
  /** Integrated gradients: integration steps (`--steps`); default 50. */
  steps?: number;
  /** Alias of `steps` (Captum's n_steps). */
  nSteps?: number;
  /** Integrated gradients: approximation method; default 'gausslegendre'. */
  igMethod?: IntegrationMethod;
  /** Integrated gradients: scaled inputs per gradient batch; default from the input size. */
  internalBatchSize?: number;
  /** grad_cam / guided_grad_cam: layer to explain (`--layer`); default the last 4-D activation before global pooling. */
  layer?: string;
  /** grad_cam: ReLU the map; default false (Captum). */
  reluAttributions?: boolean;
  /** grad_cam: how the map is resized to the input; default 'bilinear'. guided_grad_cam: default 'nearest' (Captum). */
  interpolateMode?: InterpolateMode;
  /** saliency / smoothgrad: absolute gradients; default true. */
  abs?: boolean;
  /** smoothgrad: noisy samples (`--samples`); default 20. */
  samples?: number;
  /** smoothgrad: absolute noise standard deviation; default 0.15 × (max − min) of the input (SmoothGrad's 15 %). */
  stdevs?: number;
  /** smoothgrad: noisy copies per gradient batch; default 10. */
  samplesBatchSize?: number;
  /** smoothgrad: noise seed; default 0, so runs repeat. */
  seed?: number;
}

export interface MethodRun {
  target: number | number[];
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignalLike;
  /** Occlusion: evaluate a coarse grid of windows first (see AblationOptions.progressive). */
  progressive?: boolean;
  /** Occlusion: the map so far after each batch (NHWC, the input's shape). */
  onPartial?: (map: Float32Array, done: number, total: number) => void;
}

/** easy-explain's Occlusion setting for a [N,H,W,C] input: window 45×45×C, stride 9×9×C, baseline 0. */
export function occlusionSettings(channels: number, settings: MethodSettings = {}) {
  const window = settings.window ?? 45;
  const stride = settings.stride ?? 9;
  return {
    slidingWindowShapes: [window, window, channels] as [number, number, number],
    strides: [stride, stride, channels] as [number, number, number],
    baselines: settings.baseline ?? 0,
    perturbationsPerEval: settings.perturbationsPerEval,
  };
}

/** A [N,h,w,1] map resized to the input and spread over its C channels as map/C, so the channel sum is the map. */
function spreadOverInput(map: tf.Tensor4D, input: tf.Tensor4D, mode: InterpolateMode): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = input.shape;
    const resized = LayerGradCam.interpolate(map, [h, w], mode);
    return tf.broadcastTo(tf.div(resized, c), [n, h, w, c]) as tf.Tensor4D;
  });
}

/**
 * Runs one attribution method by name and returns an attribution of the input's shape [N,H,W,C].
 * grad_cam's layer map [N,h,w,1] is resized to H×W (bilinear by default) and spread over the C channels as map/C,
 * so the channel sum that visualisation takes is the resized Grad-CAM map; `parameters.layer` names the layer used.
 * integrated_gradients reports `parameters.convergenceDelta` (one per example). The caller disposes the result.
 */
export async function runMethod(
  method: MethodName,
  model: Model,
  input: tf.Tensor4D,
  run: MethodRun,
  settings: MethodSettings = {},
): Promise<{ attribution: tf.Tensor4D; parameters: Record<string, unknown> }> {
  switch (method) {
    case 'occlusion': {
      const options = occlusionSettings(input.shape[3], settings);
      const occlusion = new Occlusion(model);
      const attribution = await occlusion.attribute(input, { ...run, ...options, workers: settings.workers });
      // The threads actually used: 'auto' resolves per host, and models without the hook use one.
      return { attribution, parameters: { ...options, workers: occlusion.workers } };
    }
    case 'integrated_gradients': {
      const options = {
        nSteps: settings.steps ?? settings.nSteps ?? 50,
        method: settings.igMethod ?? 'gausslegendre',
        baselines: settings.baseline ?? 0,
        internalBatchSize: settings.internalBatchSize,
      };
      if (!INTEGRATION_METHODS.includes(options.method)) {
        throw new ExplainError('invalid_option', `igMethod must be one of ${INTEGRATION_METHODS.join(', ')}; got ${String(options.method)}.`);
      }
      const { attribution, delta } = await new IntegratedGradients(model).attributeWithDelta(input, { ...run, ...options });
      return { attribution, parameters: { ...options, convergenceDelta: delta } };
    }
    case 'saliency': {
      const abs = settings.abs ?? true;
      return { attribution: await new Saliency(model).attribute(input, { ...run, abs }), parameters: { abs } };
    }
    case 'guided_backprop':
      return { attribution: await new GuidedBackprop(model).attribute(input, run), parameters: {} };
    case 'grad_cam': {
      const gradCam = new LayerGradCam(model, settings.layer);
      const reluAttributions = settings.reluAttributions ?? false;
      const interpolateMode = settings.interpolateMode ?? 'bilinear';
      if (interpolateMode !== 'nearest' && interpolateMode !== 'bilinear') {
        throw new ExplainError('invalid_option', `interpolateMode must be 'nearest' or 'bilinear'; got ${String(interpolateMode)}.`);
      }
      const map = await gradCam.attribute(input, { ...run, reluAttributions });
      const attribution = spreadOverInput(map, input, interpolateMode);
      const mapShape = map.shape;
      map.dispose();
      return {
        attribution,
        parameters: { layer: gradCam.layer, layerIsDefault: gradCam.layerIsDefault, reluAttributions, interpolateMode, mapShape },
      };
    }
    case 'guided_grad_cam': {
      const guided = new GuidedGradCam(model, settings.layer);
      const interpolateMode = settings.interpolateMode ?? 'nearest';
      const attribution = await guided.attribute(input, { ...run, interpolateMode });
      return { attribution, parameters: { layer: guided.layer, interpolateMode } };
    }
    case 'smoothgrad': {
      const abs = settings.abs ?? true;
      let stdevs = settings.stdevs;
      if (stdevs === undefined) {
        const range = tf.tidy(() => tf.sub(tf.max(input), tf.min(input)));
        stdevs = 0.15 * (await range.data())[0];
        range.dispose();
      }
      const options = {
        ntType: 'smoothgrad' as const,
        ntSamples: settings.samples ?? 20,
        ntSamplesBatchSize: settings.samplesBatchSize ?? 10,
        stdevs,
        seed: settings.seed ?? 0,
      };
      const attribution = await new NoiseTunnel(new Saliency(model)).attribute(input, { ...run, ...options, abs });
      return { attribution, parameters: { ...options, abs } };
    }
    default:
      throw new ExplainError(
        'invalid_option',
        `Unknown or unavailable method "${String(method)}"; use one of: ${METHOD_NAMES.join(', ')}.`,
      );
  }
}
