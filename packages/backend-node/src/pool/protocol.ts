// Messages between the main thread and an occlusion worker (src/pool/worker.ts): core's pool requests, each with
// an id that gets exactly one reply; a worker handles its requests one at a time, in order.
import type { OcclusionPoolReply, OcclusionPoolRequest, OutputKind } from '@easy-explain/core/internal';
import type { ModelFiles } from '@easy-explain/runtime';

/** workerData of a pool worker: enough to rebuild the main thread's model and backend. */
export interface WorkerInit {
  backend: string;
  /** model.json path or URL (LoadedModel.source). */
  source: string;
  /** The model's files as the main thread read them, when reading them again would mean downloading them again. */
  files?: ModelFiles;
  outputKind?: OutputKind;
  outputLayer?: string;
}

export type Request = OcclusionPoolRequest & { id: number };

export interface ErrorData {
  name: string;
  code?: string;
  message: string;
}

export type Reply =
  | { type: 'ready'; threadId: number }
  | { type: 'failed'; error: ErrorData }
  | ({ type: 'done'; id: number } & OcclusionPoolReply)
  | { type: 'error'; id: number; error: ErrorData };
