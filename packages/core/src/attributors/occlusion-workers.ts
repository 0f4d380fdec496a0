// Which models can spread Occlusion over workers. A backend that can rebuild a model in another thread registers a
// provider for it when it loads the model; Occlusion asks here. Model itself stays free of worker concerns.
import type { AbortSignalLike } from '../platform.js';
import type { AblationScorerFactory } from './feature-ablation.js';
import type { ForwardScorer } from './forward-scorer.js';

/** What Occlusion asks of an occlusion-workers provider. */
export interface OcclusionWorkerOptions {
  /** Worker threads wanted: a count, or 'auto' for what the host offers. */
  workers: number | 'auto';
  /** As OcclusionOptions.incremental: the workers build the scorer the caller's thread would have built. */
  incremental?: boolean | { approximate?: { tau: number } };
  onWarning?: (message: string) => void;
  /** Lets a batch in flight be abandoned at once instead of after the workers finish it. */
  signal?: AbortSignalLike;
}

/**
 * A scorer that spreads batches over `workers` threads. Its context's `perturbationsPerEval` is the batch each
 * worker evaluates; `scoreRegions` receives up to `workers` such batches at once, cut at the same boundaries a
 * single thread would use, so every worker scores exactly the batches the single-thread run scores.
 */
export interface OcclusionWorkers {
  workers: number;
  scorer: AblationScorerFactory;
  /** The same workers for forward-only batches (ScoreCAM, AblationCAM, deletion/insertion), when they take them. */
  forward?: ForwardScorer;
}

/** Returns the workers for one call, or undefined to run in the caller's thread (e.g. 'auto' on a one-core host). */
export type OcclusionWorkersProvider = (options: OcclusionWorkerOptions) => OcclusionWorkers | undefined;

const providers = new WeakMap<object, OcclusionWorkersProvider>();

/** Lets Occlusion run `model` on workers (backends call it for the models they load). */
export function setOcclusionWorkers(model: object, provider: OcclusionWorkersProvider): void {
  providers.set(model, provider);
}

/** The provider registered for `model`, if any. */
export function occlusionWorkersOf(model: object): OcclusionWorkersProvider | undefined {
  return providers.get(model);
}

/** What Occlusion asks of a model's own scoring engine (e.g. a native runtime the backend attached). */
export interface OcclusionEngineOptions {
  workers: number | 'auto';
  incremental?: boolean | { approximate?: { tau: number } };
  onWarning?: (message: string) => void;
  signal?: AbortSignalLike;
}

/**
 * Scores a model's ablated copies its own way (its own threads), or returns undefined to leave them to TF.js.
 * Used before the worker pool: an engine that answers replaces both the in-thread scorer and the workers.
 */
export type OcclusionEngine = (options: OcclusionEngineOptions) => AblationScorerFactory | undefined;

const engines = new WeakMap<object, OcclusionEngine>();

/** Lets Occlusion score `model` with `engine` (a backend calls it when it runs the same network natively). */
export function setOcclusionEngine(model: object, engine: OcclusionEngine | undefined): void {
  if (engine) engines.set(model, engine);
  else engines.delete(model);
}

/** The engine registered for `model`, if any. */
export function occlusionEngineOf(model: object): OcclusionEngine | undefined {
  return engines.get(model);
}
