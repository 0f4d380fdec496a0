// Occlusion spread over workers, whatever carries the messages: worker_threads in Node, Web Workers in a browser.
// The caller's side cuts every batch into the batches one thread would score and deals them out; a worker's side
// scores them with the scorer the caller's thread would have built. So the merged map equals one thread's bit for bit.
import * as tf from '@tensorflow/tfjs-core';
import { ExplainError, throwIfAborted } from '../errors.js';
import { uniformBaselineArray } from './attributor.js';
import type { Model } from '../model.js';
import type { AbortSignalLike } from '../platform.js';
import type { AblationScorer, AblationScorerFactory, Region } from './feature-ablation.js';
import { occlusionScorerFactory } from './occlusion.js';
import type { OcclusionWorkerOptions } from './occlusion-workers.js';
import { answerForward, type ForwardRequest, type ForwardScorer } from './forward-scorer.js';

/**
 * What the caller's side asks a worker. A worker answers its requests one at a time, in the order sent. Occlusion
 * runs a job (start, score…, end); forward-only batches (ForwardRequest) stand alone and are answered with `scores`.
 */
export type OcclusionPoolRequest =
  | ForwardRequest
  | {
      type: 'start';
      job: number;
      inputData: Float32Array;
      /** The baseline, or (a number baseline) its value: `uniformBaselineArray` makes the array on the worker's side. */
      baseline: Float32Array | number;
      shape: [number, number, number, number];
      targets: number[];
      perturbationsPerEval: number;
      incremental?: boolean | { approximate?: { tau: number } };
    }
  | { type: 'score'; job: number; regions: Region[] }
  | { type: 'end'; job: number };

/** A worker's answer: scores for 'score' (laid out region·N + n), warnings for 'start'. */
export interface OcclusionPoolReply {
  scores?: Float32Array;
  warnings?: string[];
  /** A 'start' reply's f(x) [N, classes], from a worker whose scorer computed it while starting. */
  inputScores?: Float32Array;
  classes?: number;
}

/** One worker as the caller's side sees it: a request in, its reply (or a rejection) out. */
export interface OcclusionPoolWorker {
  request(message: OcclusionPoolRequest): Promise<OcclusionPoolReply>;
}

/** 'auto' uses the host's cores up to this many: each worker holds a model and a backend, and wasm gains little beyond. */
export const MAX_AUTO_WORKERS = 4;

/** A worker a pool can hold: it says when it is ready and can be ended. */
export interface PooledOcclusionWorker extends OcclusionPoolWorker {
  readonly ready: Promise<unknown>;
  /** Ends the worker; its requests in flight reject with `reason`. */
  terminate(reason: Error): unknown;
}

/**
 * The workers of one model, whatever they run in: spawned on first use on the caller's current backend (so results
 * match its single-thread run), reused by every call, ended by close(). `spawn` gets the backend and a callback the
 * worker calls when it fails; such a worker leaves the pool and the next call spawns a replacement.
 */
export class OcclusionWorkerPool<W extends PooledOcclusionWorker> {
  private members: W[] = [];
  private backend?: string;
  private closed = false;

  constructor(private readonly spawn: (backend: string, onGone: (worker: W) => void) => W) {}

  /** The live workers (diagnostics, tests). */
  get workers(): readonly W[] {
    return this.members;
  }

  /** `count` ready workers, spawning what is missing. */
  async acquire(count: number): Promise<W[]> {
    if (this.closed) throw new ExplainError('invalid_model', 'The model was disposed; load it again to run occlusion in workers.');
    const backend = tf.getBackend();
    if (this.backend !== backend) {
      await this.terminateAll(new ExplainError('worker_failed', 'The backend changed while occlusion workers were busy.'));
      this.backend = backend;
    }
    while (this.members.length < count) {
      let worker: W;
      try {
        worker = this.spawn(backend, (gone) => (this.members = this.members.filter((w) => w !== gone)));
      } catch (cause) {
        throw new ExplainError('worker_failed', `Could not start an occlusion worker: ${(cause as Error)?.message ?? cause}`, { cause });
      }
      this.members.push(worker);
    }
    const chosen = this.members.slice(0, count);
    await Promise.all(chosen.map((w) => w.ready));
    return chosen;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.terminateAll(new ExplainError('invalid_model', 'The model was disposed while occlusion ran in its workers.'));
  }

  private async terminateAll(reason: Error): Promise<void> {
    const members = this.members;
    this.members = [];
    await Promise.all(members.map((w) => w.terminate(reason)));
  }
}

/** Rejects with `aborted` as soon as the signal fires, without waiting for `promise`. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignalLike | undefined): Promise<T> {
  // Core knows no DOM types: an AbortSignal is used through the two methods it needs.
  type Listen = (type: 'abort', listener: () => void, options?: { once?: boolean }) => void;
  const events = signal as (AbortSignalLike & { addEventListener?: Listen; removeEventListener?: Listen }) | undefined;
  if (!events?.addEventListener || !events.removeEventListener) return promise;
  const { addEventListener, removeEventListener } = events;
  promise.catch(() => {}); // once aborted, a later failure of the abandoned work is nobody's to handle
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      try {
        throwIfAborted(events);
      } catch (error) {
        reject(error);
      }
    };
    if (events.aborted) return onAbort();
    addEventListener.call(events, 'abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => removeEventListener.call(events, 'abort', onAbort));
  });
}

let nextJob = 1;

/** A start request's baseline as the array scorers read. */
export function baselineOf(request: { baseline: Float32Array | number; inputData: Float32Array }): Float32Array {
  return typeof request.baseline === 'number' ? uniformBaselineArray(request.inputData.length, request.baseline) : request.baseline;
}

/**
 * The caller's side: a scorer over the workers `acquire` returns. Each worker gets the run's input, baseline and
 * targets once; then every batch of regions is cut into slices of `perturbationsPerEval` (the single-thread
 * batches), slice k of call j going to worker (j + k) mod count, and the scores are concatenated in region order. On abort the
 * batch rejects at once; the workers finish the slice they are on and then drop the job.
 */
export function occlusionPoolScorer(
  acquire: () => Promise<OcclusionPoolWorker[]>,
  options: OcclusionWorkerOptions,
): AblationScorerFactory {
  const { signal } = options;
  return async (context) => {
    throwIfAborted(signal);
    const workers = await abortable(acquire(), signal);
    const job = nextJob++;
    // Ends the job everywhere. After a normal run every worker is idle, so the replies are waited for and the
    // workers hold nothing once the call returns; after an abort they are not (the call returns at once).
    const end = async () => {
      const ends = workers.map((w) => w.request({ type: 'end', job }).catch(() => {}));
      if (!signal?.aborted) await Promise.all(ends);
    };
    // The first batch is sent right behind the start instead of after its replies: each worker answers in order,
    // so it scores the batch as soon as it has started, and this thread's turn between the two drops out of the
    // time to the first map. The start's failure or abort is reported by the first batch (and by f(x)).
    const starts = workers.map((w) =>
      w.request({
        type: 'start',
        job,
        inputData: context.inputData,
        // A number baseline goes as the number: posting a copy of the whole array to every worker cost the caller's
        // thread ~1.5 ms per worker (224×224×3) before the first batch, and each worker as much again to receive it.
        baseline: context.uniformBaseline ?? context.baseline,
        shape: context.shape,
        targets: context.targets,
        perturbationsPerEval: context.perturbationsPerEval,
        incremental: options.incremental,
      }),
    );
    starts.forEach((p) => p.catch(() => {}));
    const started = abortable(Promise.all(starts), signal);
    started.then(
      // Every worker says the same (e.g. why incremental inference is off): tell it once.
      (replies) => {
        for (const warning of new Set(replies.flatMap((r) => r.warnings ?? []))) options.onWarning?.(warning);
      },
      () => {},
    );
    const slice = context.perturbationsPerEval;
    // The worker dealt a call's first slice moves on by one each call: a batch of 27 cut 14 + 13 would otherwise give
    // the first worker one window more every time, and the others would wait for it at the end of the run
    // (16 windows, ~0.2–0.4 s of a ResNet-50 job on 2 workers).
    let calls = 0;
    const inputScores = started.then(([{ inputScores, classes }]) => (inputScores && classes ? { scores: inputScores, classes } : undefined));
    inputScores.catch(() => {}); // the start's failure is the first batch's to report
    return {
      inputScores,
      // Each worker answers its requests in order: the next batch's slices queue behind the current ones.
      pipelined: true,
      async scoreRegions(regions: Region[]) {
        throwIfAborted(signal);
        const parts: Promise<OcclusionPoolReply>[] = [];
        // A call shorter than a slice per worker (a progressive run's coarse pass) is shared out evenly.
        const size = Math.min(slice, Math.ceil(regions.length / workers.length));
        const first = calls++;
        for (let i = 0, k = first; i < regions.length; i += size, k++) {
          parts.push(workers[k % workers.length].request({ type: 'score', job, regions: regions.slice(i, i + size) }));
        }
        parts.forEach((p) => p.catch(() => {}));
        await started;
        const replies = await abortable(Promise.all(parts), signal);
        const scores = new Float32Array(replies.reduce((sum, r) => sum + (r.scores?.length ?? 0), 0));
        let offset = 0;
        for (const reply of replies) {
          scores.set(reply.scores!, offset);
          offset += reply.scores!.length;
        }
        return scores;
      },
      dispose: end,
    };
  };
}

/**
 * Forward-only batches over the workers `acquire` returns (`count` of them): the i-th batch handed over goes to
 * worker i mod count, and callers hand over `count` batches at a time (scoreBatches), so every worker scores whole
 * single-thread batches. On abort a batch rejects at once; its worker finishes it and stays usable.
 */
export function poolForwardScorer(
  acquire: () => Promise<OcclusionPoolWorker[]>,
  count: number,
  options: { signal?: AbortSignalLike },
): ForwardScorer {
  const { signal } = options;
  let next = 0;
  return {
    parallel: count,
    layers: true,
    runsOn: 'workers',
    async run(request) {
      throwIfAborted(signal);
      const workers = await abortable(acquire(), signal);
      const reply = await abortable(workers[next++ % workers.length].request(request), signal);
      return reply.scores!;
    },
  };
}

/**
 * A worker's side: the jobs it holds for one model. `handle` answers requests one at a time, in the order it is
 * given them (so a job's 'end' runs after its last 'score'); the transport sends each reply, transferring
 * `scores.buffer`, which the reply owns alone.
 */
export class OcclusionPoolJobs {
  private readonly jobs = new Map<number, { scorer: AblationScorer; input: tf.Tensor4D }>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly model: Model) {}

  handle(request: OcclusionPoolRequest): Promise<OcclusionPoolReply> {
    const reply = this.queue.then(() => this.answer(request));
    this.queue = reply.catch(() => {});
    return reply;
  }

  private async answer(request: OcclusionPoolRequest): Promise<OcclusionPoolReply> {
    switch (request.type) {
      case 'forward':
      case 'forward-layer':
        return { scores: await answerForward(this.model, request) };
      case 'start': {
        const warnings: string[] = [];
        const input = tf.tensor4d(request.inputData, request.shape);
        try {
          const factory = occlusionScorerFactory(this.model, { incremental: request.incremental, onWarning: (m) => warnings.push(m) });
          const scorer = await factory({
            model: this.model,
            input,
            inputData: request.inputData,
            baseline: baselineOf(request),
            shape: request.shape,
            targets: request.targets,
            perturbationsPerEval: request.perturbationsPerEval,
          });
          this.jobs.set(request.job, { scorer, input });
        } catch (error) {
          input.dispose();
          throw error;
        }
        return { warnings };
      }
      case 'score': {
        const job = this.jobs.get(request.job);
        if (!job) throw new ExplainError('worker_failed', `This occlusion worker has no job ${request.job}.`);
        const scores = await job.scorer.scoreRegions(request.regions);
        // A copy owns its buffer alone, so the transport can transfer it instead of cloning it.
        return { scores: scores.byteOffset === 0 && scores.byteLength === scores.buffer.byteLength ? scores : scores.slice() };
      }
      case 'end': {
        const job = this.jobs.get(request.job);
        this.jobs.delete(request.job);
        if (job) {
          try {
            await job.scorer.dispose();
          } finally {
            job.input.dispose();
          }
        }
        return {};
      }
    }
  }
}

/** A worker in the caller's own thread (a browser's explanation worker scores its share too). */
export function inThreadPoolWorker(model: Model): OcclusionPoolWorker {
  const jobs = new OcclusionPoolJobs(model);
  return { request: (message) => jobs.handle(message) };
}
