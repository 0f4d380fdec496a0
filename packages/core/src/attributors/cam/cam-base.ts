// The shared base of the CAM family: layer checks, targets (top-1 by default), activations and gradients at the
// layer, and the resizing/scaling both reference libraries apply. One method per file builds on it.
import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../../errors.js';
import { predictScores, type Model } from '../../model.js';
import type { AbortSignalLike } from '../../platform.js';
import { checkImageBatch, resolveTargets } from '../attributor.js';
import { classCount, layerGradients } from '../gradient-attribution.js';
import { ensureGradients } from '../../kernels/ensure-gradients.js';
import { LayerGradCam } from '../layer-grad-cam.js';

/** Options every CAM method takes. */
export interface CamOptions {
  /**
   * Class index: one for the whole batch or one per example. Default: each example's top-1 class of the model's raw
   * output, as pytorch-grad-cam (targets=None) and easy-explain's CAMExplain choose it.
   */
  target?: number | number[];
  /** Called after each batch of forward passes (ScoreCAM, AblationCAM) or each gradient pass. */
  onProgress?: (done: number, total: number) => void;
  /** Stops the run between batches; the promise then rejects with ExplainError code `aborted`. */
  signal?: AbortSignalLike;
}

/** A layer's activations and the gradients of the targets' raw output scores with respect to them. */
export interface LayerState {
  /** [N,h,w,C] */
  activations: tf.Tensor4D;
  /** [N,h,w,C]; absent for forward-only methods. */
  gradients?: tf.Tensor4D;
}

const EPS_SCALE = 1e-7; // pytorch-grad-cam's scale_cam_image: img / (1e-7 + max)

/** Per-example min-max scaling of [N,h,w,1]: (x − min) / (eps + max(x − min)). */
export function minMaxScale(map: tf.Tensor4D, eps: number): tf.Tensor4D {
  return tf.tidy(() => {
    const shifted = tf.sub(map, tf.min(map, [1, 2, 3], true));
    return tf.div(shifted, tf.add(tf.max(shifted, [1, 2, 3], true), eps)) as tf.Tensor4D;
  });
}

/**
 * Bilinear resize with half-pixel centres and no antialiasing: OpenCV's cv2.resize INTER_LINEAR and torch's
 * interpolate(bilinear, align_corners=False) when upsampling (both clamp source coordinates at the edges).
 */
export function resizeBilinearHalfPixel(map: tf.Tensor4D, size: [number, number]): tf.Tensor4D {
  return tf.image.resizeBilinear(map, size, false, true);
}

/**
 * pytorch-grad-cam's post-processing of one layer's map (scale_cam_image with the input size, then the
 * aggregation's scale_cam_image): min-max scale, resize to `size` (cv2 bilinear), min-max scale again.
 */
export function scaleCamImage(raw: tf.Tensor4D, size: [number, number]): tf.Tensor4D {
  return tf.tidy(() => minMaxScale(resizeBilinearHalfPixel(minMaxScale(raw, EPS_SCALE), size), EPS_SCALE));
}

const isSpatialShape = (shape: ReadonlyArray<number | null>) =>
  shape.length === 4 && ((shape[1] ?? 2) > 1 || (shape[2] ?? 2) > 1);

/** Checks a model can run up to a layer. */
export function checkCamModel(model: Model): void {
  if (!model || typeof model.predict !== 'function') {
    throw new ExplainError('invalid_model', 'CAM methods need a Model; wrap a tf.LayersModel or tf.GraphModel with asModel.');
  }
  if (!model.predictWithLayer || !model.scoresFromLayer) {
    throw new ExplainError(
      'invalid_model',
      'CAM methods need a model wrapped from a tf.LayersModel or tf.GraphModel by asModel (this model cannot run up to a layer).',
    );
  }
}

/** Checks that a layer exists and (when its shape is known) that it is spatial. */
export function checkCamLayer(model: Model, layer: string): void {
  if (typeof layer !== 'string' || layer === '') {
    throw new ExplainError('invalid_model', `The layer must be a layer name; got ${JSON.stringify(layer)}.`);
  }
  const names = model.layerNames?.();
  if (names && names.length > 0 && !names.includes(layer)) {
    throw new ExplainError('invalid_model', `The model has no layer "${layer}". Its layers are: ${names.join(', ')}.`);
  }
  const shape = model.layerShape?.(layer);
  if (shape && !isSpatialShape(shape)) {
    throw new ExplainError(
      'invalid_model',
      `Layer "${layer}" outputs shape [${shape.map((d) => d ?? 'N')}], which has no spatial h×w > 1 map; ` +
        'choose a convolutional layer before global pooling (e.g. the default layer).',
    );
  }
}

function checkSpatial(activations: tf.Tensor4D, layer: string): void {
  if (!isSpatialShape(activations.shape)) {
    throw new ExplainError(
      'invalid_model',
      `Layer "${layer}" outputs shape [${activations.shape}], a 1×1 map; choose a convolutional layer before global pooling.`,
    );
  }
}

/** Shared base of every CAM method: one layer of one model. */
export abstract class CamBase {
  /** The layer explained: the one given, or the last spatial 4-D activation before global pooling. */
  readonly layer: string;
  /** Whether `layer` was chosen automatically (as torchcam's locate_candidate_layer). */
  readonly layerIsDefault: boolean;

  constructor(
    readonly model: Model,
    layer?: string,
  ) {
    checkCamModel(model);
    this.layerIsDefault = layer === undefined;
    this.layer = layer ?? LayerGradCam.defaultLayer(model);
    checkCamLayer(model, this.layer);
  }

  /** Validates the input and returns one target per example (the top-1 class of the raw output when not given). */
  protected async targetsFor(input: tf.Tensor4D, options: CamOptions | undefined): Promise<number[]> {
    checkImageBatch(input);
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new ExplainError('invalid_option', 'options must be an object such as { target: 3 }.');
    }
    if (options?.target !== undefined) return resolveTargets(options.target, input.shape[0], classCount(this.model, input));
    return topClasses(this.model, input);
  }

  /** The layer's activations [N,h,w,C] (one forward pass). */
  protected activations(input: tf.Tensor4D): tf.Tensor4D {
    const activations = tf.tidy(() => this.model.predictWithLayer!(input, this.layer).activations);
    try {
      checkSpatial(activations, this.layer);
    } catch (error) {
      activations.dispose();
      throw error;
    }
    return activations;
  }

  /** The layer's activations and d score[n, target[n]] / d activations (the raw model output, as both libraries). */
  protected async activationsAndGradients(input: tf.Tensor4D, targets: number[]): Promise<Required<LayerState>> {
    await ensureGradients();
    const state = layerGradients(this.model, input, this.layer, targets);
    try {
      checkSpatial(state.activations, this.layer);
    } catch (error) {
      tf.dispose([state.activations, state.gradients]);
      throw error;
    }
    return state;
  }
}

/** Each example's top-1 class of the model's raw output (argmax; ties go to the first, as numpy and torch). */
export async function topClasses(model: Model, input: tf.Tensor4D): Promise<number[]> {
  const best = tf.tidy(() => tf.argMax(predictScores(model, input), 1));
  try {
    return Array.from(await best.data());
  } finally {
    best.dispose();
  }
}

/** scores[n, targets[n]] for each row, downloaded; disposes `scores`. */
export async function pickScores(scores: tf.Tensor2D, targets: number[]): Promise<Float32Array> {
  let values: Float32Array;
  try {
    values = (await scores.data()) as Float32Array;
  } finally {
    scores.dispose();
  }
  const classes = scores.shape[1];
  return Float32Array.from(targets, (t, row) => values[row * classes + t]);
}
