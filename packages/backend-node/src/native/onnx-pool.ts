// Native occlusion workers: threads that each hold an onnxruntime session of the same ONNX bytes. Core's pool
// machinery (OcclusionWorkerPool, occlusionPoolScorer) deals the batches out, exactly as for TF.js workers.
import { OcclusionWorkerPool } from '@easy-explain/core/internal';
import { ThreadWorker, workerEntry } from '../pool/pool.js';

/** What a native occlusion worker is started with. */
export interface OnnxWorkerInit {
  onnx: Uint8Array;
  threads: number;
  incremental: boolean | 'auto';
  /** Copies per onnxruntime run on full forward passes. */
  batch: number;
}

/** The native workers of one engine; the TF.js backend name core's pool tracks does not matter to them. */
export class NativeWorkerPool extends OcclusionWorkerPool<ThreadWorker> {
  constructor(init: OnnxWorkerInit) {
    const entry = workerEntry('native/onnx-worker.js');
    super((_backend, onGone) => new ThreadWorker(entry, init, 'a native occlusion worker', onGone));
  }
}
