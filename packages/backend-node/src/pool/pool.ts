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

function workerEntry(): URL {
  const beside = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  // Loaded from src (the tests alias packages to src): workers run the compiled entry.
  return new URL('../../dist/pool/worker.js', import.meta.url);
}

function toError(data: ErrorData): Error {
  if (data.name === 'ExplainError' && data.code) return new ExplainError(data.code, data.message);
  return new ExplainError('worker_failed', `An occlusion worker failed: ${data.message}`);
}

/** A worker thread with the main thread's Node flags, or none when a flag is per-process only (e.g. --expose-gc). */
function newWorker(init: WorkerInit, execArgv: string[]): Worker {
  try {
    return new Worker(workerEntry(), { workerData: init, execArgv });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(workerEntry(), { workerData: init, execArgv: [] });
  }
}

/** One worker thread and its requests in flight. */
class PoolWorker implements PooledOcclusionWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  threadId = -1;
  private readonly pending = new PendingRequests<OcclusionPoolReply>();
  private rejectReady: (error: Error) => void = () => {};

  constructor(init: WorkerInit, private readonly onGone: (worker: PoolWorker) => void) {
    // Node flags carry over to workers, except one that only applies to the main script (`node --input-type -e`).
    const execArgv = process.execArgv.filter((flag) => !flag.startsWith('--input-type'));
    this.worker = newWorker(init, execArgv);
    this.ready = new Promise<void>((resolve, reject) => {
      this.rejectReady = reject;
      this.worker.on('message', (reply: Reply) => {
        if (reply.type === 'ready') {
          this.threadId = reply.threadId;
          this.settle();
          resolve();
        } else if (reply.type === 'failed') {
          this.fail(toError(reply.error));
        } else {
          const answered = reply.type === 'error' ? this.pending.reject(reply.id, toError(reply.error)) : this.pending.resolve(reply.id, reply);
          if (answered) this.settle();
        }
      });
    });
    this.ready.catch(() => {}); // the pool awaits it; a failure before anyone does is not unhandled
    this.worker.on('error', (error) => this.fail(new ExplainError('worker_failed', `An occlusion worker crashed: ${firstLine(error)}`, { cause: error })));
    this.worker.on('exit', (code) => this.fail(new ExplainError('worker_failed', `An occlusion worker stopped (exit code ${code}).`)));
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

/** The worker threads of one model (core's pool of workers, spawning threads that rebuild the model). */
export class WorkerPool extends OcclusionWorkerPool<PoolWorker> {
  constructor(init: Omit<WorkerInit, 'backend'>) {
    super((backend, onGone) => new PoolWorker({ ...init, backend }, onGone));
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
