// Native occlusion workers: threads that each hold an onnxruntime session of the same ONNX bytes. Core's pool
// machinery (OcclusionWorkerPool, occlusionPoolScorer) deals the batches out, exactly as for TF.js workers.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ExplainError, OcclusionWorkerPool, type OcclusionPoolReply, type OcclusionPoolRequest, type PooledOcclusionWorker } from '@easy-explain/core/internal';
import { PendingRequests } from '@easy-explain/runtime';
import type { ErrorData, Reply } from '../pool/protocol.js';

/** What a native occlusion worker is started with. */
export interface OnnxWorkerInit {
  onnx: Uint8Array;
  threads: number;
  incremental: boolean;
}

function workerEntry(): URL {
  const beside = new URL('./onnx-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  // Loaded from src (the tests alias packages to src): workers run the compiled entry.
  return new URL('../../dist/native/onnx-worker.js', import.meta.url);
}

const toError = (data: ErrorData) =>
  data.name === 'ExplainError' && data.code
    ? new ExplainError(data.code as never, data.message)
    : new ExplainError('worker_failed', `A native occlusion worker failed: ${data.message}`);

class NativeWorker implements PooledOcclusionWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  private readonly pending = new PendingRequests<OcclusionPoolReply>();
  private rejectReady: (error: Error) => void = () => {};

  constructor(init: OnnxWorkerInit, private readonly onGone: (worker: NativeWorker) => void) {
    this.worker = new Worker(workerEntry(), { workerData: init });
    this.ready = new Promise<void>((resolve, reject) => {
      this.rejectReady = reject;
      this.worker.on('message', (reply: Reply) => {
        if (reply.type === 'ready') {
          this.settle();
          resolve();
        } else if (reply.type === 'failed') this.fail(toError(reply.error));
        else if (reply.type === 'error' ? this.pending.reject(reply.id, toError(reply.error)) : this.pending.resolve(reply.id, reply)) this.settle();
      });
    });
    this.ready.catch(() => {});
    this.worker.on('error', (error) => this.fail(new ExplainError('worker_failed', `A native occlusion worker crashed: ${error.message}`)));
    this.worker.on('exit', (code) => this.fail(new ExplainError('worker_failed', `A native occlusion worker stopped (exit code ${code}).`)));
  }

  request(message: OcclusionPoolRequest): Promise<OcclusionPoolReply> {
    const { id, reply } = this.pending.open();
    if (this.pending.failed) return reply;
    this.worker.ref(); // work in flight keeps the process alive until it is answered
    this.worker.postMessage({ ...message, id });
    return reply;
  }

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

/** The native workers of one engine; the TF.js backend name core's pool tracks does not matter to them. */
export class NativeWorkerPool extends OcclusionWorkerPool<NativeWorker> {
  constructor(init: OnnxWorkerInit) {
    super((_backend, onGone) => new NativeWorker(init, onGone));
  }
}
