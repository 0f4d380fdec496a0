import { ExplainError, type MethodName, type MethodOptions, type MetricName, type Prediction } from '@easy-explain/core';
import { PendingRequests } from '@easy-explain/runtime';
import type { SetupBackendOptions } from './backend.js';
import { decodeImage, type ImageSource, type RgbImage } from './image.js';
import type { LoadModelOptions } from './model.js';
import type { BackendInfo, ExplainResult, ModelInfo, RawAttributeOptions, WorkerReply, WorkerRequest } from './protocol.js';


export interface JobOptions {
  /** Called after each batch; `partial`, when present, is the map so far (Occlusion with `partial: true`: after its coarse grid, then at most every 100 ms, and at the end). */
  onProgress?: (done: number, total: number, partial?: Float32Array) => void;
  signal?: AbortSignal;
}

/**
 * The page's side of the explanation worker: every call is a message to a worker running `serveExplainWorker`,
 * so TF.js never runs on the page's main thread. Errors come back as ExplainError with their code.
 */
export class ExplainWorkerClient {
  private readonly pending = new PendingRequests<unknown, Pick<JobOptions, 'onProgress'>>();

  constructor(private readonly worker: Worker) {
    worker.onmessage = (event: MessageEvent<WorkerReply>) => this.receive(event.data);
    worker.onerror = (event) => {
      this.pending.rejectAll(new ExplainError('worker_failed', `The explanation worker failed: ${event.message || 'could not start'}.`));
    };
  }

  private receive(reply: WorkerReply): void {
    if (reply.type === 'progress') return this.pending.get(reply.id)?.onProgress?.(reply.done, reply.total, reply.partial);
    if (reply.type === 'done') this.pending.resolve(reply.id, reply.value);
    else this.pending.reject(reply.id, new ExplainError(reply.code, reply.message));
  }

  private call<T>(request: WorkerRequest, job: JobOptions = {}, transfer: Transferable[] = []): Promise<T> {
    if (job.signal?.aborted) return Promise.reject(new ExplainError('aborted', 'Cancelled before it started.'));
    const { id, reply } = this.pending.open({ onProgress: job.onProgress });
    // A cancel is a request of its own, answered whether or not the job was still running.
    job.signal?.addEventListener(
      'abort',
      () => {
        const cancel = this.pending.open();
        cancel.reply.catch(() => {}); // nobody waits for the answer to a cancel
        this.worker.postMessage({ id: cancel.id, request: { type: 'cancel', job: id } });
      },
      { once: true },
    );
    this.worker.postMessage({ id, request }, transfer);
    return reply as Promise<T>;
  }

  setupBackend(name: 'auto' | string = 'auto', options: SetupBackendOptions = {}): Promise<BackendInfo> {
    return this.call({ type: 'setup', backend: name, options });
  }

  info(): Promise<BackendInfo> {
    return this.call({ type: 'info' });
  }

  /** Loads the model in the worker. Picked files are read there; nothing is uploaded. */
  loadModel(
    source: string | URL | File[] | FileList | { modelTopology: unknown; weightSpecs: unknown[]; weightData: ArrayBuffer; format?: string },
    options: Omit<LoadModelOptions, 'onProgress'> = {},
  ): Promise<ModelInfo> {
    const s = source instanceof URL ? String(source) : typeof FileList !== 'undefined' && source instanceof FileList ? Array.from(source) : source;
    return this.call({ type: 'loadModel', source: s as never, options });
  }

  /** Decodes the image on the page, sends its pixels to the worker, returns the top-k and the cropped photo. */
  async predict(image: ImageSource, k = 5): Promise<{ predictions: Prediction[]; display: RgbImage }> {
    const rgb = await decodeImage(image);
    return this.call({ type: 'predict', image: rgb, k });
  }

  /** Attributes the last predicted image to `target` with a method of core's table (its options in Captum's names); cancel with `job.signal`. */
  explain(
    method: MethodName,
    target: number,
    options: MethodOptions = {},
    job: JobOptions & { partial?: boolean; metrics?: MetricName[]; metricOptions?: { steps?: number } } = {},
  ): Promise<ExplainResult> {
    return this.call({ type: 'explain', method, target, options, partial: job.partial ?? false, metrics: job.metrics, metricOptions: job.metricOptions }, job);
  }

  /**
   * A core attributor on a raw [N,H,W,C] input with the loaded model (for reference checks): Occlusion when
   * `options.method` is absent, else the method named (see RawAttributeOptions). The input buffer is copied, not
   * transferred; pass `job.signal` to cancel between batches.
   */
  attribute(
    input: Float32Array,
    shape: [number, number, number, number],
    target: number | number[],
    options: RawAttributeOptions,
    job: JobOptions = {},
  ): Promise<ExplainResult> {
    return this.call({ type: 'attribute', input, shape, target, options }, job);
  }

  terminate(): void {
    this.worker.terminate();
    this.pending.fail(new ExplainError('aborted', 'The worker was stopped.'));
  }
}
