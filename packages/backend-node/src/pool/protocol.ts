// Messages between the main thread and an occlusion worker (src/pool/worker.ts). Every request carries an id and
// gets exactly one reply with that id; a worker handles its requests one at a time, in order.
import type { OutputKind, Region } from '@easy-explain/core';

/** workerData of a pool worker: enough to rebuild the main thread's model and backend. */
export interface WorkerInit {
  backend: string;
  /** model.json path or URL (LoadedModel.source). */
  source: string;
  outputKind?: OutputKind;
  outputLayer?: string;
}

export type Request =
  | {
      type: 'start';
      id: number;
      job: number;
      inputData: Float32Array;
      baseline: Float32Array;
      shape: [number, number, number, number];
      targets: number[];
      perturbationsPerEval: number;
      incremental?: boolean | { approximate?: { tau: number } };
    }
  | { type: 'score'; id: number; job: number; regions: Region[] }
  | { type: 'end'; id: number; job: number };

export interface ErrorData {
  name: string;
  code?: string;
  message: string;
}

export type Reply =
  | { type: 'ready'; threadId: number }
  | { type: 'failed'; error: ErrorData }
  | { type: 'done'; id: number; scores?: Float32Array; warnings?: string[] }
  | { type: 'error'; id: number; error: ErrorData };
