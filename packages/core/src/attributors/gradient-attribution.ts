import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../errors.js';
import { ensureGradients } from '../kernels/ensure-gradients.js';
import { withGradientRules, type GradientMode } from '../kernels/gradient-overrides.js';
import { predictScores, type Model } from '../model.js';
import { checkImageBatch, resolveTargets, type AttributeOptions, type Attributor } from './attributor.js';

export type { GradientMode } from '../kernels/gradient-overrides.js';

const classCounts = new WeakMap<Model, number>();

/** Number of classes the model scores, from one forward pass of one example (cached per model). */
export function classCount(model: Model, input: tf.Tensor4D): number {
  let count = classCounts.get(model);
  if (count === undefined) {
    const first = tf.slice(input, [0, 0, 0, 0], [1, -1, -1, -1]);
    try {
      const scores = predictScores(model, first);
      count = scores.shape[1];
      scores.dispose();
    } finally {
      first.dispose();
    }
    classCounts.set(model, count);
  }
  return count;
}

/** Σ_n scores[n, targets[n]]: its gradient holds each example's target-score gradient (examples are independent). */
export function targetScore(scores: tf.Tensor2D, targets: number[]): tf.Scalar {
  // Built on the host: wasm's OneHot kernel ignores the float32 dtype.
  const classes = scores.shape[1];
  const mask = new Float32Array(targets.length * classes);
  targets.forEach((t, n) => (mask[n * classes + t] = 1));
  const picks = tf.tensor2d(mask, [targets.length, classes]);
  return tf.sum(tf.mul(scores, picks));
}

/** d score[n, target[n]] / d images[n] for a batch, synchronously. */
export function inputGradients(model: Model, images: tf.Tensor4D, targets: number[], mode: GradientMode = 'plain'): tf.Tensor4D {
  return withGradientRules(mode, () =>
    tf.tidy(() => tf.grad((x: tf.Tensor) => targetScore(model.predict(x as tf.Tensor4D), targets))(images) as tf.Tensor4D),
  );
}

/** A layer's activations A and d score[n, target[n]] / d A, synchronously. */
export function layerGradients(
  model: Model,
  images: tf.Tensor4D,
  layer: string,
  targets: number[],
  mode: GradientMode = 'plain',
): { activations: tf.Tensor4D; gradients: tf.Tensor4D } {
  if (!model.predictWithLayer || !model.scoresFromLayer) {
    throw new ExplainError(
      'invalid_model',
      'Layer methods need a model wrapped from a tf.LayersModel or tf.GraphModel by asModel (this model cannot run up to a layer).',
    );
  }
  // One forward pass to the layer; tidy frees the scores (and everything, if the layer is rejected).
  const activations = tf.tidy(() => model.predictWithLayer!(images, layer).activations);
  try {
    const gradients = withGradientRules(mode, () =>
      tf.tidy(
        () =>
          tf.grad((a: tf.Tensor) => targetScore(model.scoresFromLayer!(images, layer, a as tf.Tensor4D), targets))(
            activations,
          ) as tf.Tensor4D,
      ),
    );
    return { activations, gradients };
  } catch (error) {
    activations.dispose();
    throw error;
  }
}

/** Shared base of the gradient methods: input checks, targets and gradient registration. */
export abstract class GradientAttribution<Options extends AttributeOptions = AttributeOptions> implements Attributor<Options> {
  constructor(readonly model: Model) {
    if (!model || typeof model.predict !== 'function') {
      throw new ExplainError('invalid_model', 'Gradient attributions need a Model; wrap a tf.LayersModel or tf.GraphModel with asModel.');
    }
  }

  abstract attribute(input: tf.Tensor4D, options: Options): Promise<tf.Tensor4D>;

  /** Validates the input and target and makes sure gradients can run; returns one target per example. */
  protected async prepare(input: tf.Tensor4D, options: AttributeOptions): Promise<number[]> {
    checkImageBatch(input);
    if (!options || typeof options !== 'object') {
      throw new ExplainError('invalid_target', 'options with a target are required, e.g. { target: 3 }.');
    }
    await ensureGradients();
    return resolveTargets(options.target, input.shape[0], classCount(this.model, input));
  }
}
