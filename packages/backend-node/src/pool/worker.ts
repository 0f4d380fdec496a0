// An occlusion worker thread: its own backend and copy of the model; answers core's pool requests with core's
// OcclusionPoolJobs, so its scores equal the main thread's bit for bit.
import { parentPort, threadId, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { OcclusionPoolJobs } from '@easy-explain/core/internal';
import { setupBackend } from '../backend.js';
import { loadModel, loadModelFiles, type LoadedModel } from '../model.js';
import type { ErrorData, Reply, Request, WorkerInit } from './protocol.js';

const port = parentPort!;
const init = workerData as WorkerInit;

function errorData(error: unknown): ErrorData {
  if (error instanceof Error) return { name: error.name, code: (error as { code?: unknown }).code as string | undefined, message: error.message };
  return { name: 'Error', message: String(error) };
}

function post(reply: Reply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(reply, transfer);
}

async function main(): Promise<void> {
  let model: LoadedModel;
  try {
    await setupBackend(init.backend);
    tf.env().set('PROD', true);
    const options = { outputKind: init.outputKind, outputLayer: init.outputLayer };
    model = init.files ? await loadModelFiles(init.files, init.source, options) : await loadModel(init.source, options);
  } catch (error) {
    post({ type: 'failed', error: errorData(error) });
    return;
  }
  // The jobs answer one request at a time, in arrival order.
  const jobs = new OcclusionPoolJobs(model);
  port.on('message', (request: Request) => {
    jobs.handle(request).then(
      (reply) => post({ type: 'done', id: request.id, ...reply }, reply.scores ? [reply.scores.buffer as ArrayBuffer] : []),
      (error: unknown) => post({ type: 'error', id: request.id, error: errorData(error) }),
    );
  });
  post({ type: 'ready', threadId });
}

void main();
