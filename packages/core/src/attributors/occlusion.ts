import type * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../errors.js';
import { checkWorkers } from './forward-workers.js';
import { incrementalScorer } from '../incremental/index.js';
import type { Model } from '../model.js';
import { checkImageBatch, positiveInteger } from './attributor.js';
import { occlusionEngineOf, occlusionWorkersOf } from './occlusion-workers.js';
import {
  AblationAttributor,
  defaultPerturbationsPerEval,
  fullForwardScorer,
  type AblationOptions,
  type AblationScorerFactory,
  type Region,
} from './feature-ablation.js';

export type Shape3 = [number, number, number];

export interface OcclusionOptions extends AblationOptions {
  /** Window [h, w, c]. Captum's (3,45,45) on NCHW is [45,45,3] here. */
  slidingWindowShapes: Shape3;
  /** Step per dimension [sh, sw, sc], or one number for all; default 1. */
  strides?: number | Shape3;
  /**
   * Recompute per layer only the region a window can reach (exact; default true). Needs a model wrapped from a
   * LayersModel or GraphModel; other models, and models with a layer the engine does not know, run full forward
   * passes and say why through `onWarning`. `{ approximate: { tau } }` caps how far a change may spread (Krypton's
   * projective-field threshold, 0 < tau ≤ 1): faster, no longer exact.
   */
  incremental?: boolean | { approximate?: { tau: number } };
  /** Told when a fast path cannot be used, and why. */
  onWarning?: (message: string) => void;
  /**
   * Worker threads to spread the windows over: 1 (default) runs in this thread; a number > 1 or 'auto' (the
   * host's cores, as the backend decides) uses the workers the backend registered for the model (models from
   * either backend's loadModel have them; see `setOcclusionWorkers`). Each worker scores whole batches of `perturbationsPerEval` windows, the same batches one thread would
   * score, so the map is identical bit for bit. A model without the hook (a plain function, an asModel wrapper)
   * runs in this thread; for an explicit count `onWarning` says so.
   */
  workers?: 'auto' | number;
}

const DIMENSIONS = ['height', 'width', 'channels'];

/**
 * The scorer Occlusion uses in this thread: incremental inference on the model's LayersModel or GraphModel unless
 * `incremental` is false (or the model wraps neither), full forward passes otherwise. Worker threads build theirs
 * with it too, so both score the same way.
 */
export function occlusionScorerFactory(
  model: Model,
  options: Pick<OcclusionOptions, 'incremental' | 'onWarning'> = {},
): AblationScorerFactory {
  const incremental = options.incremental ?? true;
  const source = model.tfModel;
  if (incremental === false || !source) return fullForwardScorer;
  return incrementalScorer(source, {
    outputLayer: model.outputLayer,
    approximate: typeof incremental === 'object' ? incremental.approximate : undefined,
    onWarning: options.onWarning,
  });
}

/**
 * Captum's Occlusion: a window slides over the image with the given strides; every position is replaced by the
 * baseline and the drop of the target score is spread over the window. Per dimension there are
 * ceil((D − w) / s) + 1 positions starting at k·s; a last window that runs past the edge is cut off there.
 *
 * @example
 * ```ts
 * const occlusion = new Occlusion(model);
 * // easy-explain's setting on a [1,224,224,3] input: 441 windows of 45×45 over all channels.
 * const map = await occlusion.attribute(input, { target: 285, slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3], baselines: 0 });
 * map.dispose();
 * ```
 */
export class Occlusion extends AblationAttributor<OcclusionOptions> {
  /** Threads the last `attribute` call scored on (1: this thread). */
  workers = 1;

  override attribute(input: tf.Tensor4D, options: OcclusionOptions): Promise<tf.Tensor4D> {
    this.workers = 1;
    const incremental = options.incremental ?? true;
    if (typeof incremental === 'object' && incremental.approximate) {
      const tau = incremental.approximate.tau;
      if (!(tau > 0 && tau <= 1)) {
        throw new ExplainError('invalid_option', `incremental.approximate.tau must be in (0, 1]; got ${tau}.`);
      }
    }
    const workers = checkWorkers(options.workers);
    if (options.scorer) return super.attribute(input, options);
    // A network the backend runs natively (its own threads) scores faster than TF.js in any number of workers.
    const engine = occlusionEngineOf(this.model)?.({ workers, incremental, onWarning: options.onWarning, signal: options.signal });
    if (engine) return super.attribute(input, { ...options, scorer: engine });
    const provider = occlusionWorkersOf(this.model);
    if (workers !== 1) {
      if (!provider) {
        if (workers !== 'auto') {
          options.onWarning?.(
            `This model cannot run in worker threads (only models loaded from a model.json can); occlusion runs in this thread.`,
          );
        }
      } else {
        checkImageBatch(input);
        const perEval = positiveInteger(options.perturbationsPerEval, 'perturbationsPerEval', defaultPerturbationsPerEval(input.shape));
        const pooled = provider({ workers, incremental, onWarning: options.onWarning, signal: options.signal });
        if (pooled && pooled.workers > 1) {
          this.workers = pooled.workers;
          // The base hands over `workers` single-thread batches at a time; each worker takes one.
          return super.attribute(input, {
            ...options,
            perturbationsPerEval: perEval * pooled.workers,
            scorer: (context) => pooled.scorer({ ...context, perturbationsPerEval: perEval }),
          });
        }
      }
    }
    const scorer = occlusionScorerFactory(this.model, options);
    return super.attribute(input, { ...options, scorer });
  }

  protected regions([, h, w, c]: [number, number, number, number], options: OcclusionOptions): Region[] {
    const { window, strides } = checkWindows([h, w, c], options.slidingWindowShapes, options.strides);
    const [ny, nx, nc] = [0, 1, 2].map((d) => windowCount([h, w, c][d], window[d], strides[d]));
    const regions: Region[] = [];
    // Row-major over (h, w, c), as Captum enumerates its shifts.
    for (let iy = 0; iy < ny; iy++) {
      for (let ix = 0; ix < nx; ix++) {
        for (let ic = 0; ic < nc; ic++) {
          const start: Shape3 = [iy * strides[0], ix * strides[1], ic * strides[2]];
          const end: Shape3 = [
            Math.min(start[0] + window[0], h),
            Math.min(start[1] + window[1], w),
            Math.min(start[2] + window[2], c),
          ];
          regions.push({ start, end });
        }
      }
    }
    return regions;
  }

  /**
   * A coarser grid of the same windows: every k-th position per axis (and always the last), with k·stride ≤ window
   * where the budget allows (then the coarse map covers every pixel), and at most 1/COARSE_FRACTION of all windows,
   * so the first map comes after about 2.5 % of the work.
   */
  protected override coarseRegions(regions: Region[], [, h, w, c]: [number, number, number, number], options: OcclusionOptions): number[] {
    const { window, strides } = checkWindows([h, w, c], options.slidingWindowShapes, options.strides);
    const counts = [0, 1, 2].map((d) => windowCount([h, w, c][d], window[d], strides[d]));
    const picks = (n: number, k: number) => {
      const at = Array.from({ length: Math.ceil(n / k) }, (_, i) => i * k);
      if (at[at.length - 1] !== n - 1) at.push(n - 1);
      return at;
    };
    // Spatial axes only: the channel axis is usually a single position.
    const steps = [0, 1, 2].map((d) => (d < 2 ? Math.max(1, Math.floor(window[d] / strides[d])) : 1));
    const size = () => [0, 1, 2].reduce((product, d) => product * picks(counts[d], steps[d]).length, 1);
    while (size() > regions.length / COARSE_FRACTION && (steps[0] < counts[0] || steps[1] < counts[1])) {
      const axis = counts[0] / steps[0] >= counts[1] / steps[1] ? 0 : 1;
      steps[axis]++;
    }
    const [ys, xs, cs] = [0, 1, 2].map((d) => picks(counts[d], steps[d]));
    const indices: number[] = [];
    for (const iy of ys) for (const ix of xs) for (const ic of cs) indices.push((iy * counts[1] + ix) * counts[2] + ic);
    return indices.length < regions.length ? indices : [];
  }
}

/**
 * The coarse grid holds at most 1/40 of the windows. easy-explain's setting (441 windows 45×45, stride 9, 224×224)
 * gets 3×3 windows at positions 0, 10, 20 (the 45-px bands between them borrow the nearest covered value in that
 * preview). With 1/25 (4×4) the first map came after 7–11 % of the exact time on the native engine's incremental
 * scorer (1.35–1.5 s for the whole map on 2 cores, so its fixed start-up weighs more), against the 5 % issue 14 asks for.
 */
export const COARSE_FRACTION = 40;

/** Captum's count of window positions along one dimension. */
export function windowCount(size: number, window: number, stride: number): number {
  return Math.ceil((size - window) / stride) + 1;
}

/** Validates window and strides against an input [H,W,C]; returns them as triples. */
export function checkWindows(
  inputHWC: Shape3,
  slidingWindowShapes: Shape3 | undefined,
  strides: number | Shape3 | undefined,
): { window: Shape3; strides: Shape3 } {
  if (!Array.isArray(slidingWindowShapes) || slidingWindowShapes.length !== 3) {
    throw new ExplainError(
      'invalid_window',
      `slidingWindowShapes must be [h, w, c] (NHWC order, e.g. [45, 45, 3]); got ${JSON.stringify(slidingWindowShapes)}.`,
    );
  }
  const window = slidingWindowShapes;
  window.forEach((size, d) => {
    if (!Number.isInteger(size) || size < 1) {
      throw new ExplainError('invalid_window', `The window's ${DIMENSIONS[d]} must be a positive integer; got ${size}.`);
    }
    if (size > inputHWC[d]) {
      throw new ExplainError(
        'window_too_large',
        `The window [${window}] is larger than the input [${inputHWC}] in ${DIMENSIONS[d]} (${size} > ${inputHWC[d]}); use a window of at most ${inputHWC[d]}.`,
      );
    }
  });
  const steps: Shape3 = typeof strides === 'number' ? [strides, strides, strides] : strides ?? [1, 1, 1];
  if (!Array.isArray(steps) || steps.length !== 3) {
    throw new ExplainError('invalid_stride', `strides must be a number or [sh, sw, sc]; got ${JSON.stringify(strides)}.`);
  }
  steps.forEach((step, d) => {
    if (!Number.isInteger(step) || step < 1) {
      throw new ExplainError('invalid_stride', `The stride along ${DIMENSIONS[d]} must be a positive integer; got ${step}.`);
    }
    // Windows start at k·s; with s > w and more than one position, the elements between two windows are never occluded.
    if (step > window[d] && windowCount(inputHWC[d], window[d], step) > 1) {
      throw new ExplainError(
        'stride_too_large',
        `The stride along ${DIMENSIONS[d]} (${step}) is larger than the window (${window[d]}), so some elements would never be occluded; use a stride of at most ${window[d]}.`,
      );
    }
  });
  return { window: [...window] as Shape3, strides: steps };
}
