// Occlusion on several Web Workers. The explanation worker scores its own share and deals the rest to helper
// workers it spawns (each runs `serveOcclusionHelper`, with its own backend and copy of the model), through core's
// pool protocol: the merged map equals one worker's bit for bit.
import * as tf from '@tensorflow/tfjs-core';
import {
  ExplainError,
  inThreadPoolWorker,
  occlusionPoolScorer,
  OcclusionPoolJobs,
  type OcclusionPoolReply,
  type OcclusionPoolRequest,
  type OcclusionPoolWorker,
  type OcclusionWorkerOptions,
  type OcclusionWorkers,
  type OutputKind,
} from '@easy-explain/core';
import { setupBackend, type SetupBackendOptions } from './backend.js';
import { loadModel, type LoadedModel } from './model.js';

/** 'auto' uses the device's cores up to this many: each worker holds a model and a backend. */
export const MAX_AUTO_WORKERS = 4;

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
  artifacts: tf.io.ModelArtifacts;
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
class HelperWorker implements OcclusionPoolWorker {
  readonly ready: Promise<unknown>;
  private failure?: Error;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (reply: OcclusionPoolReply) => void; reject: (error: Error) => void }>();

  constructor(
    private readonly worker: WorkerLike,
    init: HelperInit,
    private readonly onGone: (helper: HelperWorker) => void,
  ) {
    worker.onmessage = (event: MessageEvent<HelperReply>) => {
      const reply = event.data;
      const entry = this.pending.get(reply.id);
      if (!entry) return;
      this.pending.delete(reply.id);
      if (reply.type === 'error') entry.reject(new ExplainError(reply.code, reply.message));
      else entry.resolve(reply);
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
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const reply = new Promise<OcclusionPoolReply>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.worker.postMessage({ ...message, id });
    return reply;
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const entry of this.pending.values()) entry.reject(error);
    this.pending.clear();
    this.onGone(this);
    this.worker.terminate();
  }
}

/**
 * The helpers of one loaded model: spawned on first use, reused by every call, ended with the model. Helpers that
 * fail leave the pool; the next call spawns replacements.
 */
export class HelperPool {
  private helpers: HelperWorker[] = [];
  private backend?: string;
  private closed = false;

  constructor(
    private readonly spawn: () => WorkerLike,
    private readonly init: () => HelperInit,
  ) {}

  /** Live helpers (diagnostics, tests). */
  get size(): number {
    return this.helpers.length;
  }

  async acquire(count: number): Promise<OcclusionPoolWorker[]> {
    if (this.closed) throw new ExplainError('invalid_model', 'The model was disposed; load it again to run occlusion in workers.');
    const init = this.init();
    if (this.backend !== init.backend) {
      // Helpers compute on the explanation worker's backend, so results match its single-worker run.
      this.terminateAll(new ExplainError('worker_failed', 'The backend changed while occlusion helpers were busy.'));
      this.backend = init.backend;
    }
    while (this.helpers.length < count) {
      let worker: WorkerLike;
      try {
        worker = this.spawn();
      } catch (cause) {
        throw new ExplainError('worker_failed', `Could not start an occlusion helper worker: ${(cause as Error)?.message ?? cause}`, { cause });
      }
      this.helpers.push(new HelperWorker(worker, init, (gone) => (this.helpers = this.helpers.filter((h) => h !== gone))));
    }
    const chosen = this.helpers.slice(0, count);
    await Promise.all(chosen.map((h) => h.ready));
    return chosen;
  }

  close(): void {
    this.closed = true;
    this.terminateAll(new ExplainError('invalid_model', 'The model was disposed while occlusion ran in its helper workers.'));
  }

  private terminateAll(reason: Error): void {
    const helpers = this.helpers;
    this.helpers = [];
    helpers.forEach((h) => h.terminate(reason));
  }
}

/**
 * Gives `model` the `occlusionScorer` hook of core's Occlusion: with `workers` > 1 (or 'auto' on a CPU backend) this
 * worker scores one share and `workers − 1` helpers from `spawn` score the rest. `dispose()` also ends the helpers.
 */
export function withOcclusionHelpers(
  model: LoadedModel,
  spawn: () => WorkerLike,
  backendOptions: () => SetupBackendOptions,
): LoadedModel & { readonly helpers: HelperPool } {
  const pool = new HelperPool(spawn, () => ({
    backend: tf.getBackend(),
    backendOptions: backendOptions(),
    artifacts: model.artifacts,
    outputKind: model.outputKind,
    outputLayer: model.outputLayer,
  }));
  return {
    ...model,
    helpers: pool,
    occlusionScorer(options: OcclusionWorkerOptions): OcclusionWorkers | undefined {
      const count = resolveWebWorkers(options.workers, tf.getBackend());
      if (count <= 1) return undefined;
      return {
        workers: count,
        scorer: async (context) => {
          const here = inThreadPoolWorker(model);
          const factory = occlusionPoolScorer(async () => [here, ...(await pool.acquire(count - 1))], options);
          return factory(context);
        },
      };
    },
    dispose() {
      pool.close();
      model.dispose();
    },
  };
}

interface HelperScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

/**
 * Runs in an occlusion helper worker: call it from the helper's module (`serveOcclusionHelper(self)`), and give the
 * explanation worker a way to start that module (`serveExplainWorker(self, { spawnHelper })`).
 */
export function serveOcclusionHelper(scope: HelperScope): void {
  let jobs: OcclusionPoolJobs | undefined;
  let model: LoadedModel | undefined;
  const handle = async (request: HelperRequest): Promise<OcclusionPoolReply> => {
    if (request.type === 'init') {
      const { init } = request;
      await setupBackend(init.backend, init.backendOptions);
      model = await loadModel(init.artifacts, { outputKind: init.outputKind, outputLayer: init.outputLayer });
      jobs = new OcclusionPoolJobs(model);
      return {};
    }
    if (!jobs) throw new ExplainError('worker_failed', 'This occlusion helper was sent work before its model.');
    return jobs.handle(request);
  };
  // One request at a time, in arrival order: a job's 'end' runs after its last 'score'.
  let queue: Promise<unknown> = Promise.resolve();
  scope.onmessage = (event: MessageEvent<HelperRequest>) => {
    const request = event.data;
    queue = queue.then(() =>
      handle(request).then(
        (reply) => scope.postMessage({ ...reply, id: request.id, type: 'done' } satisfies HelperReply, reply.scores ? [reply.scores.buffer] : []),
        (error: unknown) => {
          const e = error as { code?: string; message?: string };
          scope.postMessage({ id: request.id, type: 'error', code: e?.code ?? 'worker_failed', message: e?.message ?? String(error) } satisfies HelperReply);
        },
      ),
    );
  };
}
