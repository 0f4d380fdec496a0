// A pool of worker threads for occlusion, one per LoadedModel: spawned on first use, reused by every call, closed by
// the model's dispose(). Idle workers are unref'd, so they never keep the process alive.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  ExplainError,
  MAX_AUTO_WORKERS,
  occlusionPoolScorer,
  OcclusionWorkerPool,
  type AblationScorerFactory,
  type OcclusionPoolReply,
  type OcclusionPoolRequest,
  type OcclusionWorkerOptions,
  type PooledOcclusionWorker,
} from '@easy-explain/core/internal';
import { PendingRequests } from '@easy-explain/runtime';
import { firstLine } from '../backend.js';
import type { ErrorData, Reply, Request, WorkerInit } from './protocol.js';

/**
 * `workers` lowered to the cores available here (os.availableParallelism()), saying so through `onWarning`: more
 * threads than cores only add memory (each holds a copy of the model) and start-up time.
 */
export function cappedWorkers(workers: number | 'auto', onWarning?: (message: string) => void): number | 'auto' {
  const cores = availableParallelism();
  if (workers === 'auto' || !Number.isInteger(workers) || workers <= cores) return workers;
  onWarning?.(`workers lowered from ${workers} to ${cores}, the cores available here; more threads would only add memory.`);
  return cores;
}

/** The number of workers `workers` asks for on this host. */
export function resolveWorkers(workers: number | 'auto'): number {
  return workers === 'auto' ? Math.min(availableParallelism(), MAX_AUTO_WORKERS) : workers;
}

/**
 * A compiled worker entry by its path under dist/ (e.g. 'pool/worker.js'): beside this module when it runs from
 * dist/, else (the tests load the sources) the compiled one.
 */
export function workerEntry(path: string): URL {
  const beside = new URL(`../${path}`, import.meta.url);
  return existsSync(fileURLToPath(beside)) ? beside : new URL(`../../dist/${path}`, import.meta.url);
}

/** A worker thread with the main thread's Node flags, or none when a flag is per-process only (e.g. --expose-gc). */
function newWorker(entry: URL, workerData: unknown): Worker {
  // Node flags carry over to workers, except one that only applies to the main script (`node --input-type -e`).
  const execArgv = process.execArgv.filter((flag) => !flag.startsWith('--input-type'));
  try {
    return new Worker(entry, { workerData, execArgv });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(entry, { workerData, execArgv: [] });
  }
}

/**
 * One occlusion worker thread (TF.js or native) and its requests in flight: idle workers are unref'd, a crash or
 * exit rejects every request and takes the worker out of its pool. `what` names it in messages.
 */
export class ThreadWorker implements PooledOcclusionWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  threadId = -1;
  private readonly pending = new PendingRequests<OcclusionPoolReply>();
  private rejectReady: (error: Error) => void = () => {};

  constructor(entry: URL, workerData: unknown, private readonly what: string, private readonly onGone: (worker: ThreadWorker) => void) {
    this.worker = newWorker(entry, workerData);
    this.ready = new Promise<void>((resolve, reject) => {
      this.rejectReady = reject;
      this.worker.on('message', (reply: Reply) => {
        if (reply.type === 'ready') {
          this.threadId = reply.threadId;
          this.settle();
          resolve();
        } else if (reply.type === 'failed') {
          this.fail(this.toError(reply.error));
        } else {
          const answered = reply.type === 'error' ? this.pending.reject(reply.id, this.toError(reply.error)) : this.pending.resolve(reply.id, reply);
          if (answered) this.settle();
        }
      });
    });
    this.ready.catch(() => {}); // the pool awaits it; a failure before anyone does is not unhandled
    this.worker.on('error', (error) => this.fail(new ExplainError('worker_failed', `${capitalise(what)} crashed: ${firstLine(error)}`, { cause: error })));
    this.worker.on('exit', (code) => this.fail(new ExplainError('worker_failed', `${capitalise(what)} stopped (exit code ${code}).`)));
  }

  request(message: OcclusionPoolRequest): Promise<OcclusionPoolReply> {
    const { id, reply } = this.pending.open();
    if (this.pending.failed) return reply;
    this.worker.ref(); // work in flight keeps the process alive until it is answered
    this.worker.postMessage({ ...message, id } satisfies Request);
    return reply;
  }

  /** Ends the worker; requests in flight reject with `reason`. */
  terminate(reason: Error): Promise<unknown> {
    this.fail(reason);
    return this.worker.terminate();
  }

  private toError(data: ErrorData): Error {
    if (data.name === 'ExplainError' && data.code) return new ExplainError(data.code, data.message);
    return new ExplainError('worker_failed', `${capitalise(this.what)} failed: ${data.message}`);
  }

  private settle(): void {
    if (this.pending.size === 0) this.worker.unref();
  }

  private fail(error: Error): void {
    if (!this.pending.fail(error)) return;
    this.rejectReady(error);
    this.onGone(this);
    void this.worker.terminate();
  }
}

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** The worker threads of one model (core's pool of workers, spawning threads that rebuild the model). */
export class WorkerPool extends OcclusionWorkerPool<ThreadWorker> {
  constructor(init: Omit<WorkerInit, 'backend'>) {
    const entry = workerEntry('pool/worker.js');
    super((backend, onGone) => new ThreadWorker(entry, { ...init, backend } satisfies WorkerInit, 'an occlusion worker', onGone));
  }

  /** Thread ids of the live workers (diagnostics, tests). */
  get threadIds(): number[] {
    return this.workers.map((w) => w.threadId);
  }
}

/** A scorer running on `count` workers of `pool` (core's occlusionPoolScorer over worker threads). */
export function poolScorer(pool: WorkerPool, count: number, options: OcclusionWorkerOptions): AblationScorerFactory {
  return occlusionPoolScorer(() => pool.acquire(count), options);
}
