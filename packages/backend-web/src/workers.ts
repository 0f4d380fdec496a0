// The workers this package ships, started from the page. Each `new Worker(new URL('./x.js', import.meta.url), ...)` is
// written out literally: that is the pattern bundlers (Vite, webpack 5, rollup, Parcel) look for to bundle a worker.
import { ExplainError } from '@easy-explain/core';
import { ExplainWorkerClient } from './client.js';
import { FigureRenderer } from './figures.js';

function requireWorkers(what: string): void {
  if (typeof Worker === 'undefined') {
    throw new ExplainError('backend_unavailable', `${what} needs Web Workers: call it in a browser page, not on a server or in Node.`);
  }
}

/** Starts this package's explanation worker (with occlusion helpers on demand) and returns its client. */
export function startExplainWorker(): ExplainWorkerClient {
  requireWorkers('startExplainWorker');
  return new ExplainWorkerClient(new Worker(new URL('./explain-worker.js', import.meta.url), { type: 'module' }));
}

/** Starts this package's figure worker, which draws figures with viz off the main thread. */
export function startFigureWorker(): FigureRenderer {
  requireWorkers('startFigureWorker');
  return new FigureRenderer(new Worker(new URL('./figure-worker.js', import.meta.url), { type: 'module' }));
}
