import type { AbortSignalLike } from './platform.js';

/**
 * Every error the library raises on purpose carries a stable `code`. Messages say what to change.
 *
 * Codes:
 * - `invalid_input`: the input tensor is not a 4-D float batch [N,H,W,C] (or not the shape the model needs).
 * - `invalid_window`: `slidingWindowShapes` has the wrong length or a non-positive / non-integer size.
 * - `window_too_large`: a window dimension exceeds the input's.
 * - `invalid_stride`: `strides` has the wrong length or a non-positive / non-integer step.
 * - `stride_too_large`: a stride larger than its window would leave elements that no window covers.
 * - `invalid_target`: target out of range, not an integer, or the wrong count for the batch.
 * - `invalid_baseline`: baselines that cannot be broadcast to the input.
 * - `invalid_option`: any other option out of range.
 * - `invalid_model`: the model cannot be used (wrong output shape, unknown layer, unsupported source).
 * - `invalid_labels`: labels in an unknown format, or of a size that does not match the model.
 * - `image_invalid`: an image that cannot be decoded or is empty.
 * - `invalid_sign`: a visualisation method that refuses this sign.
 * - `model_not_found`: a model file (model.json or a weight shard) is missing.
 * - `backend_unavailable`: the TF.js backend asked for cannot start here.
 * - `worker_failed`: a worker thread scoring occlusion windows crashed or stopped; the next call starts a new one.
 * - `aborted`: the caller's AbortSignal fired; no partial result is returned.
 * - `image_failed`: explaining one image of a batch failed for a reason not covered above (the batch goes on).
 * - `queue_unavailable`: the job queue's Redis server cannot be reached.
 */
export type ExplainErrorCode =
  | 'invalid_input'
  | 'invalid_window'
  | 'window_too_large'
  | 'invalid_stride'
  | 'stride_too_large'
  | 'invalid_target'
  | 'invalid_baseline'
  | 'invalid_option'
  | 'invalid_model'
  | 'invalid_labels'
  | 'image_invalid'
  | 'invalid_sign'
  | 'model_not_found'
  | 'backend_unavailable'
  | 'worker_failed'
  | 'aborted'
  | 'image_failed'
  | 'queue_unavailable'
  | (string & {});

export class ExplainError extends Error {
  readonly code: ExplainErrorCode;

  constructor(code: ExplainErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExplainError';
    this.code = code;
  }

  /**
   * core and viz each define ExplainError (neither depends on the other); `instanceof` accepts either one,
   * so callers can catch every deliberate error of the library with one check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof Error && value.name === 'ExplainError' && typeof (value as { code?: unknown }).code === 'string';
  }
}

/** Rejects with `aborted` when the signal has fired. Called between batches, never mid-batch. */
export function throwIfAborted(signal: AbortSignalLike | undefined): void {
  if (signal?.aborted) {
    throw new ExplainError('aborted', 'The attribution was aborted by its AbortSignal; start it again to get a result.', {
      cause: signal.reason,
    });
  }
}
