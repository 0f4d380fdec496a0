// Where forward-only batches run, chosen per model as Occlusion chooses: a native engine the backend attached, else
// the model's worker pool (`workers` > 1 or 'auto'), else this thread. And the loop that hands them over.
import { ExplainError, throwIfAborted } from '../errors.js';
import type { Model } from '../model.js';
import { yieldToEventLoop, type AbortSignalLike } from '../platform.js';
import { inThreadForward, type ForwardRequest, type ForwardScorer } from './forward-scorer.js';
import { occlusionWorkersOf } from './occlusion-workers.js';

/** The options forward-only methods and metrics take to choose where they run. */
export interface ForwardWorkerOptions {
  /**
   * Worker threads: 1 (default for the classes and functions) runs in this thread; a number > 1 or 'auto' (the
   * host's cores) uses the workers the backend registered for the model (models from either backend's loadModel).
   * Each worker scores whole batches, the same batches one thread scores, so the result is identical bit for bit.
   * A model with a native engine attached (backend-node's `engine: 'native'`) scores there whatever this says.
   */
  workers?: number | 'auto';
  /** Told when a faster path cannot be used, and why. */
  onWarning?: (message: string) => void;
  /** Lets batches in flight on workers be abandoned at once. */
  signal?: AbortSignalLike;
}

/** What a native engine is asked for; `layer` when the batches start at that layer (AblationCAM). */
export type ForwardEngine = (options: { signal?: AbortSignalLike; layer?: string }) => ForwardScorer | undefined;

const engines = new WeakMap<object, ForwardEngine>();

/** Lets forward-only methods score `model` with `engine` (a backend calls it when it runs the network natively). */
export function setForwardEngine(model: object, engine: ForwardEngine | undefined): void {
  if (engine) engines.set(model, engine);
  else engines.delete(model);
}

/** The engine registered for `model`, if any. */
export function forwardEngineOf(model: object): ForwardEngine | undefined {
  return engines.get(model);
}

/** Checks a `workers` option. */
export function checkWorkers(workers: unknown): number | 'auto' {
  const value = workers ?? 1;
  if (value !== 'auto' && !(Number.isInteger(value) && (value as number) >= 1)) {
    throw new ExplainError('invalid_option', `workers must be a positive integer or 'auto'; got ${String(workers)}.`);
  }
  return value as number | 'auto';
}

/**
 * The scorer for `what` (e.g. 'ScoreCAM') on `model`: the native engine when one is attached (and, for batches that
 * start at `layer`, can run the network from there; otherwise `onWarning` says TF.js runs them), else the worker
 * pool, else this thread.
 */
export function forwardScorerFor(model: Model, options: ForwardWorkerOptions, what: string, layer?: string): ForwardScorer {
  const workers = checkWorkers(options.workers);
  const engine = forwardEngineOf(model)?.({ signal: options.signal, layer });
  if (engine && (layer === undefined || engine.layers)) return engine;
  if (engine) options.onWarning?.(`${what} runs on TF.js: the native engine cannot run the network from layer "${layer}".`);
  if (workers === 1) return inThreadForward(model);
  const provider = occlusionWorkersOf(model);
  if (!provider) {
    if (workers !== 'auto') {
      options.onWarning?.(`This model cannot run in worker threads (only models loaded from a model.json can); ${what} runs in this thread.`);
    }
    return inThreadForward(model);
  }
  const pooled = provider({ workers, onWarning: options.onWarning, signal: options.signal });
  return pooled && pooled.workers > 1 && pooled.forward ? pooled.forward : inThreadForward(model);
}

/**
 * Scores `count` batches in order, `forward.parallel` at a time: `make(i)` builds batch i (called in order, so it
 * may carry state from one batch to the next), `done(i, values)` takes its values. Checks `signal` before each
 * group and lets the event loop run after it.
 */
export async function scoreBatches(
  forward: ForwardScorer,
  count: number,
  make: (index: number) => ForwardRequest | Promise<ForwardRequest>,
  done: (index: number, values: Float32Array) => void,
  signal?: AbortSignalLike,
): Promise<void> {
  const parallel = Math.max(1, forward.parallel);
  for (let i0 = 0; i0 < count; i0 += parallel) {
    throwIfAborted(signal);
    const group: Promise<Float32Array>[] = [];
    for (let i = i0; i < Math.min(i0 + parallel, count); i++) {
      const request = await make(i);
      group.push(forward.run(request));
    }
    group.forEach((p) => p.catch(() => {})); // a failure is reported once, by Promise.all below
    const values = await Promise.all(group);
    throwIfAborted(signal);
    values.forEach((v, j) => done(i0 + j, v));
    await yieldToEventLoop();
  }
}
