// Forward-only scoring of whole batches (ScoreCAM's masked inputs, AblationCAM's ablated activations, the curves of
// deletion and insertion): what a batch is, and how this thread (or a TF.js worker, with the same code) scores it.
// Callers build the batches a single thread would score; whoever scores them returns the same numbers.
import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../errors.js';
import { predictScores, type Model } from '../model.js';
import { pickScores } from './cam/cam-base.js';

export type Shape4 = [number, number, number, number];

/**
 * One batch to score. 'forward': NHWC images through the whole network. 'forward-layer': the network from `layer`
 * on, that layer's output replaced by `activations` [k,h,w,C]; `image` [1,H,W,C] feeds the layers before it.
 * Either way the answer is, per row, the target's raw score, or its softmax probability with `softmax`.
 */
export type ForwardRequest =
  | { type: 'forward'; images: Float32Array; shape: Shape4; targets: number[]; softmax?: boolean }
  | {
      type: 'forward-layer';
      image: Float32Array;
      imageShape: Shape4;
      layer: string;
      activations: Float32Array;
      shape: Shape4;
      targets: number[];
      softmax?: boolean;
    };

/** Scores forward batches somewhere: this thread, TF.js workers, or a native engine. */
export interface ForwardScorer {
  /** Batches it scores at the same time: callers hand over this many single-thread batches at once. */
  readonly parallel: number;
  /** Whether it can run 'forward-layer' batches. */
  readonly layers: boolean;
  /** What scores: 'thread' (this one), 'workers' (TF.js worker threads) or 'native' (e.g. onnxruntime). */
  readonly runsOn: 'thread' | 'workers' | 'native';
  /** One value per row of the batch (see ForwardRequest). */
  run(request: ForwardRequest): Promise<Float32Array>;
}

/** Scores one batch with TF.js on `model`, in the calling thread (a worker answers with this too). */
export async function answerForward(model: Model, request: ForwardRequest): Promise<Float32Array> {
  const scores = tf.tidy(() => {
    const raw = request.type === 'forward' ? predictScores(model, tf.tensor4d(request.images, request.shape)) : scoresFromLayer(model, request);
    return request.softmax ? (tf.softmax(raw) as tf.Tensor2D) : raw;
  });
  const classes = scores.shape[1];
  const invalid = request.targets.find((t) => !(Number.isInteger(t) && t >= 0 && t < classes));
  if (invalid !== undefined) {
    scores.dispose();
    throw new ExplainError('invalid_target', `Target ${invalid} is out of range for the model's ${classes} classes.`);
  }
  return pickScores(scores, request.targets);
}

/**
 * The scores [k, classes] with the layer's output replaced. The layers before it run on the one image (their output
 * is discarded for the replacement), which is exact and k times cheaper than k copies; a model whose later layers
 * also read the image or an earlier layer in a way that cannot broadcast from one example gets the k copies instead.
 */
function scoresFromLayer(model: Model, request: Extract<ForwardRequest, { type: 'forward-layer' }>): tf.Tensor2D {
  if (!model.scoresFromLayer) {
    throw new ExplainError('invalid_model', 'This model cannot run from a layer; wrap a tf.LayersModel or tf.GraphModel with asModel.');
  }
  const image = tf.tensor4d(request.image, request.imageShape);
  const replaced = tf.tensor4d(request.activations, request.shape);
  const k = request.shape[0];
  try {
    const out = model.scoresFromLayer(image, request.layer, replaced);
    if (out.shape[0] !== k) throw new Error('batch mismatch');
    return out;
  } catch {
    return model.scoresFromLayer(tf.tile(image, [k, 1, 1, 1]), request.layer, replaced);
  }
}

/** Scores batches one at a time in the calling thread. */
export function inThreadForward(model: Model): ForwardScorer {
  return { parallel: 1, layers: true, runsOn: 'thread', run: (request) => answerForward(model, request) };
}
