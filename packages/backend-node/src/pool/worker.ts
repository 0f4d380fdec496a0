// An occlusion worker thread: its own backend and copy of the model; scores the batches of windows it is sent with
// the scorer the main thread would have built, so its scores equal the main thread's bit for bit.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { ExplainError, occlusionScorerFactory, type AblationScorer } from '@easy-explain/core';
import { setupBackend } from '../backend.js';
import { loadModel, type LoadedModel } from '../model.js';
import type { ErrorData, Reply, Request, WorkerInit } from './protocol.js';

const port = parentPort!;
const init = workerData as WorkerInit;

interface Job {
  scorer: AblationScorer;
  input: tf.Tensor4D;
}
const jobs = new Map<number, Job>();

function errorData(error: unknown): ErrorData {
  if (error instanceof Error) return { name: error.name, code: (error as { code?: unknown }).code as string | undefined, message: error.message };
  return { name: 'Error', message: String(error) };
}

function post(reply: Reply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(reply, transfer);
}

async function handle(model: LoadedModel, request: Request): Promise<void> {
  switch (request.type) {
    case 'start': {
      const warnings: string[] = [];
      const input = tf.tensor4d(request.inputData, request.shape);
      try {
        const factory = occlusionScorerFactory(model, { incremental: request.incremental, onWarning: (m) => warnings.push(m) });
        const scorer = await factory({
          model,
          input,
          inputData: request.inputData,
          baseline: request.baseline,
          shape: request.shape,
          targets: request.targets,
          perturbationsPerEval: request.perturbationsPerEval,
        });
        jobs.set(request.job, { scorer, input });
      } catch (error) {
        input.dispose();
        throw error;
      }
      post({ type: 'done', id: request.id, warnings });
      return;
    }
    case 'score': {
      const job = jobs.get(request.job);
      if (!job) throw new ExplainError('worker_failed', `Occlusion worker ${threadId} has no job ${request.job}.`);
      const scores = await job.scorer.scoreRegions(request.regions);
      // A copy owns its buffer alone, so it can be transferred instead of cloned.
      const owned = scores.byteOffset === 0 && scores.byteLength === scores.buffer.byteLength ? scores : scores.slice();
      post({ type: 'done', id: request.id, scores: owned }, [owned.buffer as ArrayBuffer]);
      return;
    }
    case 'end': {
      const job = jobs.get(request.job);
      jobs.delete(request.job);
      if (job) {
        try {
          await job.scorer.dispose();
        } finally {
          job.input.dispose();
        }
      }
      post({ type: 'done', id: request.id });
      return;
    }
  }
}

async function main(): Promise<void> {
  let model: LoadedModel;
  try {
    await setupBackend(init.backend);
    tf.env().set('PROD', true);
    model = await loadModel(init.source, { outputKind: init.outputKind, outputLayer: init.outputLayer });
  } catch (error) {
    post({ type: 'failed', error: errorData(error) });
    return;
  }
  // One request at a time, in arrival order: a job's 'end' runs after its last 'score'.
  let queue = Promise.resolve();
  port.on('message', (request: Request) => {
    queue = queue.then(() =>
      handle(model, request).catch((error: unknown) => post({ type: 'error', id: request.id, error: errorData(error) })),
    );
  });
  post({ type: 'ready', threadId });
}

void main();
