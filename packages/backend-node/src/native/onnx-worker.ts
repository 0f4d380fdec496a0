// A native occlusion worker: its own onnxruntime session (OnnxEngine with one or a few intra-op threads) answers
// core's pool requests with the engine's scorer, so a pooled map equals the one-session map bit for bit.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { baselineOf, type AblationContext, type AblationScorer, type OcclusionPoolRequest } from '@easy-explain/core/internal';
import type { ErrorData, Reply } from '../pool/protocol.js';
import { CHECKED_BYTES, OnnxEngine, type WorkerEngineOptions } from './onnx-engine.js';
import { answerOnnxForward } from './onnx-forward.js';
import type { OnnxWorkerInit } from './onnx-pool.js';

/** workerData of a native worker. */

const port = parentPort!;
const init = workerData as OnnxWorkerInit;

function errorData(error: unknown): ErrorData {
  if (error instanceof Error) return { name: error.name, code: (error as { code?: unknown }).code as string | undefined, message: error.message };
  return { name: 'Error', message: String(error) };
}

async function main(): Promise<void> {
  let engine: OnnxEngine | undefined;
  try {
    // The caller's engine checked these bytes: the whole network's session waits for a full forward pass.
    const options: WorkerEngineOptions = { threads: init.threads, workers: 1, incremental: init.incremental, batch: init.batch, onWarning: () => {}, [CHECKED_BYTES]: true };
    engine = await OnnxEngine.create(init.onnx, options);
    if (!engine) throw new Error('onnxruntime-node did not load in a worker thread');
  } catch (error) {
    port.postMessage({ type: 'failed', error: errorData(error) } satisfies Reply);
    return;
  }
  const scorerOf = engine.scorer;
  const jobs = new Map<number, AblationScorer>();
  // One request at a time, in arrival order (a job's 'end' after its last 'score').
  let queue: Promise<unknown> = Promise.resolve();
  const answer = async (request: OcclusionPoolRequest) => {
    switch (request.type) {
      case 'forward':
      case 'forward-layer':
        return { scores: await answerOnnxForward(engine, request) };
      case 'start': {
        // The native scorer reads only the arrays; the model and tensor fields of the context are not used.
        const context = { ...request, baseline: baselineOf(request), model: undefined, input: undefined } as unknown as AblationContext;
        const scorer = await (request.incremental === false ? engine.fullForwardScorer : scorerOf)(context);
        jobs.set(request.job, scorer);
        // f(x), when the scorer computed it while starting: the caller then runs no forward pass of its own.
        const own = await scorer.inputScores;
        return own ? { inputScores: own.scores, classes: own.classes } : {};
      }
      case 'score': {
        const scorer = jobs.get(request.job);
        if (!scorer) throw new Error(`This native worker has no job ${request.job}.`);
        return { scores: (await scorer.scoreRegions(request.regions)).slice() };
      }
      case 'end': {
        await jobs.get(request.job)?.dispose();
        jobs.delete(request.job);
        return {};
      }
    }
  };
  port.on('message', (request: OcclusionPoolRequest & { id: number }) => {
    const reply = queue.then(() => answer(request));
    queue = reply.catch(() => {});
    reply.then(
      (r) => port.postMessage({ type: 'done', id: request.id, ...r } satisfies Reply, r.scores ? [r.scores.buffer as ArrayBuffer] : []),
      (error: unknown) => port.postMessage({ type: 'error', id: request.id, error: errorData(error) } satisfies Reply),
    );
  });
  port.postMessage({ type: 'ready', threadId } satisfies Reply);
}

void main();
