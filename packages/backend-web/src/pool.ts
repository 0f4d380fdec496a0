// Occlusion on several Web Workers. The explanation worker scores its own share and deals the rest to helper
// workers it spawns (each runs `serveOcclusionHelper`, with its own backend and copy of the model), through core's
// pool protocol: the merged map equals one worker's bit for bit.
import * as tf from '@tensorflow/tfjs-core';
import {
  ExplainError,
  inThreadPoolWorker,
  setOcclusionWorkers,
  MAX_AUTO_WORKERS,
  occlusionPoolScorer,
  OcclusionPoolJobs,
  poolForwardScorer,
  OcclusionWorkerPool,
  type OcclusionPoolReply,
  type OcclusionPoolRequest,
  type OcclusionWorkerOptions,
  type OcclusionWorkers,
  type OutputKind,
  type PooledOcclusionWorker,
} from '@easy-explain/core/internal';
import { PendingRequests } from '@easy-explain/runtime';
import { setupBackend, type SetupBackendOptions } from './backend.js';
import { loadModel, type LoadedModel, type ModelFiles } from './model.js';
import type { WorkerScope } from './protocol.js';

/**
 * Workers `workers` asks for on this device and backend. 'auto' means one per core (up to MAX_AUTO_WORKERS) on the
 * CPU backends (wasm, cpu) and one on the GPU ones: there the GPU does the work, and extra workers only queue on it.
 */
export function resolveWebWorkers(workers: number | 'auto', backend: string): number {
  if (workers !== 'auto') return workers;
  if (backend !== 'wasm' && backend !== 'cpu') return 1;
  const cores = typeof navigator === 'undefined' ? 1 : navigator.hardwareConcurrency || 1;
  return Math.min(cores, MAX_AUTO_WORKERS);
}

/** What a helper needs to rebuild the explanation worker's backend and model. */
export interface HelperInit {
  backend: string;
  backendOptions: SetupBackendOptions;
  files: ModelFiles;
  outputKind?: OutputKind;
  outputLayer?: string;
}

type HelperMessage = { type: 'init'; init: HelperInit } | OcclusionPoolRequest;
export type HelperRequest = { id: number } & HelperMessage;
export type HelperReply =
  | ({ id: number; type: 'done' } & OcclusionPoolReply)
  | { id: number; type: 'error'; code: string; message: string };

interface WorkerLike {
  onmessage: ((event: MessageEvent) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
  terminate(): void;
}

/** One helper worker and its requests in flight. */
class HelperWorker implements PooledOcclusionWorker {
  readonly ready: Promise<unknown>;
  private readonly pending = new PendingRequests<OcclusionPoolReply>();

  constructor(
    private readonly worker: WorkerLike,
    init: HelperInit,
    private readonly onGone: (helper: HelperWorker) => void,
  ) {
    worker.onmessage = (event: MessageEvent<HelperReply>) => {
      const reply = event.data;
      if (reply.type === 'error') this.pending.reject(reply.id, new ExplainError(reply.code, reply.message));
      else this.pending.resolve(reply.id, reply);
    };
    worker.onerror = (event) => {
      event.preventDefault?.();
      this.fail(new ExplainError('worker_failed', `An occlusion helper worker failed: ${event.message || 'it could not start'}.`));
    };
    this.ready = this.send({ type: 'init', init });
    this.ready.catch((error: Error) => this.fail(error));
  }

  request(message: OcclusionPoolRequest): Promise<OcclusionPoolReply> {
    return this.send(message);
  }

  /** Ends the helper; requests in flight reject with `reason`. */
  terminate(reason: Error): void {
    this.fail(reason);
  }

  private send(message: HelperMessage): Promise<OcclusionPoolReply> {
    const { id, reply } = this.pending.open();
    if (!this.pending.failed) this.worker.postMessage({ ...message, id });
    return reply;
  }

  private fail(error: Error): void {
    if (!this.pending.fail(error)) return;
    this.onGone(this);
    this.worker.terminate();
  }
}

/**
 * Registers occlusion workers for a copy of `model` (core's setOcclusionWorkers): with `workers` > 1 (or 'auto' on a CPU backend) this
 * worker scores one share and `workers − 1` helpers from `spawn` score the rest. `dispose()` also ends the helpers.
 */
export function withOcclusionHelpers(
  model: LoadedModel,
  spawn: () => WorkerLike,
  backendOptions: () => SetupBackendOptions,
): LoadedModel & { readonly helpers: OcclusionWorkerPool<HelperWorker> } {
  // Helpers that fail leave the pool; the next call spawns replacements. They end with the model.
  const pool = new OcclusionWorkerPool<HelperWorker>((backend, onGone) => {
    const init = { backend, backendOptions: backendOptions(), files: model.files, outputKind: model.outputKind, outputLayer: model.outputLayer };
    return new HelperWorker(spawn(), init, onGone);
  });
  const pooled = {
    ...model,
    helpers: pool,
    dispose() {
      void pool.close();
      model.dispose();
    },
  };
  setOcclusionWorkers(pooled, (options: OcclusionWorkerOptions): OcclusionWorkers | undefined => {
    const count = resolveWebWorkers(options.workers, tf.getBackend());
    if (count <= 1) return undefined;
    const here = inThreadPoolWorker(model);
    return {
      workers: count,
      // Forward-only batches (ScoreCAM, AblationCAM, deletion/insertion): this worker takes every count-th batch.
      forward: poolForwardScorer(async () => [here, ...(await pool.acquire(count - 1))], count, options),
      scorer: async (context) => {
        const here = inThreadPoolWorker(model);
        const factory = occlusionPoolScorer(async () => [here, ...(await pool.acquire(count - 1))], options);
        return factory(context);
      },
    };
  });
  return pooled;
}

/**
 * Runs in an occlusion helper worker: call it from the helper's module (`serveOcclusionHelper(self)`), and give the
 * explanation worker a way to start that module (`serveExplainWorker(self, { spawnHelper })`).
 */
export function serveOcclusionHelper(scope: WorkerScope): void {
  let jobs: Promise<OcclusionPoolJobs> | undefined;
  const handle = async (request: HelperRequest): Promise<OcclusionPoolReply> => {
    if (request.type === 'init') {
      const { init } = request;
      jobs = (async () => {
        await setupBackend(init.backend, init.backendOptions);
        return new OcclusionPoolJobs(await loadModel(init.files, { outputKind: init.outputKind, outputLayer: init.outputLayer }));
      })();
      await jobs;
      return {};
    }
    if (!jobs) throw new ExplainError('worker_failed', 'This occlusion helper was sent work before its model.');
    // Work waits for the model; then the jobs answer one request at a time, in arrival order.
    return (await jobs).handle(request);
  };
  scope.onmessage = (event: MessageEvent<HelperRequest>) => {
    const request = event.data;
    handle(request).then(
      (reply) => scope.postMessage({ ...reply, id: request.id, type: 'done' } satisfies HelperReply, reply.scores ? [reply.scores.buffer] : []),
      (error: unknown) => {
        const e = error as { code?: string; message?: string };
        scope.postMessage({ id: request.id, type: 'error', code: e?.code ?? 'worker_failed', message: e?.message ?? String(error) } satisfies HelperReply);
      },
    );
  };
}
