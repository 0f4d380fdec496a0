import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from '../errors.js';
import type { AbortSignalLike } from '../platform.js';

/** Options every attribution method takes. */
export interface AttributeOptions {
  /** Class index: one for the whole batch, or one per example. */
  target: number | number[];
  /** Called after each batch of work with how much is done out of the total (units depend on the method). */
  onProgress?: (done: number, total: number) => void;
  /** Stops the run between batches; the promise then rejects with ExplainError code `aborted`. */
  signal?: AbortSignalLike;
}

/** Every attribution method. Returns a tensor with the input's shape; the caller disposes it. */
export interface Attributor<Options extends AttributeOptions = AttributeOptions> {
  attribute(input: tf.Tensor4D, options: Options): Promise<tf.Tensor4D>;
}

/** Checks that `input` is a non-empty 4-D batch [N,H,W,C]. */
export function checkImageBatch(input: tf.Tensor): asserts input is tf.Tensor4D {
  if (!(input instanceof tf.Tensor)) {
    throw new ExplainError('invalid_input', 'The input must be a tf.Tensor4D [N,H,W,C]; got ' + typeof input + '.');
  }
  if (input.rank !== 4) {
    throw new ExplainError(
      'invalid_input',
      `The input must be 4-D [N,H,W,C]; got shape [${input.shape}]. Add a batch axis with tf.expandDims(image, 0).`,
    );
  }
  if (input.size === 0) {
    throw new ExplainError('invalid_input', `The input of shape [${input.shape}] is empty.`);
  }
  if (input.dtype !== 'float32') {
    throw new ExplainError('invalid_input', `The input must be float32; got ${input.dtype}. Cast it with tf.cast(input, 'float32').`);
  }
}

/** One target class per example, checked against the batch size and the number of classes. */
export function resolveTargets(target: number | number[] | undefined, batch: number, classes: number): number[] {
  if (target === undefined || target === null) {
    throw new ExplainError('invalid_target', 'options.target is required: the class index to explain (e.g. the top prediction).');
  }
  const targets = Array.isArray(target) ? target : new Array<number>(batch).fill(target);
  if (targets.length !== batch) {
    throw new ExplainError(
      'invalid_target',
      `Got ${targets.length} targets for a batch of ${batch}; pass one target for the whole batch or one per example.`,
    );
  }
  for (const t of targets) {
    if (!Number.isInteger(t) || t < 0 || t >= classes) {
      throw new ExplainError(
        'invalid_target',
        `Target ${t} is not a class of this model; it must be an integer from 0 to ${classes - 1}.`,
      );
    }
  }
  return targets;
}

/** A positive integer option, or its default. */
export function positiveInteger(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new ExplainError('invalid_option', `${name} must be a positive integer; got ${value}.`);
  }
  return value;
}

let lastUniform: Float32Array | undefined;
/**
 * `length` copies of `value`, shared by the runs that ask for the same (scorers only read a baseline): made once
 * instead of filling fresh memory for every job, whose first touch costs page faults (~1.5 ms on 224×224×3), on the
 * caller's thread before a job's start and in each occlusion worker.
 */
export function uniformBaselineArray(length: number, value: number): Float32Array {
  if (lastUniform?.length !== length || !Object.is(lastUniform[0], Math.fround(value))) lastUniform = new Float32Array(length).fill(value);
  return lastUniform;
}

/**
 * Baselines (a number or a tensor broadcastable to the input) as one value per input element. `shared`: a number's
 * array may be the one other runs read (`uniformBaselineArray`), so the caller must not write to it.
 */
export async function baselineValues(baselines: number | tf.Tensor | undefined, shape: number[], shared = false): Promise<Float32Array> {
  const size = shape.reduce((a, b) => a * b, 1);
  if (baselines === undefined || typeof baselines === 'number') {
    const value = baselines ?? 0;
    if (!Number.isFinite(value)) throw new ExplainError('invalid_baseline', `The baseline must be a finite number; got ${value}.`);
    return shared ? uniformBaselineArray(size, value) : new Float32Array(size).fill(value);
  }
  if (!(baselines instanceof tf.Tensor)) {
    throw new ExplainError('invalid_baseline', 'baselines must be a number or a tf.Tensor broadcastable to the input.');
  }
  let broadcast: tf.Tensor;
  try {
    broadcast = tf.tidy(() => tf.broadcastTo(tf.cast(baselines, 'float32'), shape));
  } catch (cause) {
    throw new ExplainError(
      'invalid_baseline',
      `baselines of shape [${baselines.shape}] cannot be broadcast to the input's [${shape}]; use a number, [1,H,W,C], [N,H,W,C] or [C].`,
      { cause },
    );
  }
  try {
    return (await broadcast.data()) as Float32Array;
  } finally {
    broadcast.dispose();
  }
}
