import type * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from './errors.js';
import type { Model } from './model.js';
import type { AbortSignalLike } from './platform.js';
import { Occlusion } from './attributors/occlusion.js';

/** The attribution methods `runEasyExplain` and the CLI can run, by their CLI names. */
export const METHOD_NAMES = ['occlusion'] as const;
export type MethodName =
  | 'occlusion'
  | 'integrated_gradients'
  | 'saliency'
  | 'guided_backprop'
  | 'grad_cam'
  | 'guided_grad_cam'
  | 'smoothgrad';

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
}

export interface MethodRun {
  target: number | number[];
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignalLike;
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

/**
 * Runs one attribution method by name and returns an attribution of the input's shape [N,H,W,C]
 * (maps coarser than the input, such as Grad-CAM's, are upsampled to it). The caller disposes the result.
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
      const attribution = await new Occlusion(model).attribute(input, { ...run, ...options });
      return { attribution, parameters: { ...options } };
    }
    default:
      throw new ExplainError(
        'invalid_option',
        `Unknown or unavailable method "${String(method)}"; use one of: ${METHOD_NAMES.join(', ')}.`,
      );
  }
}
