// The workers this package ships, started from the page. Each `new Worker(new URL('./x.js', import.meta.url), ...)`
// and `new URL('<package>/<file>.wasm', import.meta.url)` is written out literally: that is the pattern bundlers look
// for to bundle a worker or copy an asset and rewrite the URL (Vite resolves the bare package path from this file).
import { ExplainError } from '@easy-explain/core';
import { ExplainWorkerClient } from './client.js';
import { FigureRenderer } from './figures.js';
import type { SetupBackendOptions } from './backend.js';

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

/**
 * The wasm backend's binaries as asset URLs of @tensorflow/tfjs-backend-wasm, this package's dependency (so their
 * version always matches its JS). A bundler copies them into the build and rewrites the URLs; pass `wasmPaths`
 * yourself when the files are served elsewhere (a CDN, or a page loaded without a bundler).
 */
export function defaultWasmPaths(): NonNullable<SetupBackendOptions['wasmPaths']> {
  return {
    'tfjs-backend-wasm-simd.wasm': new URL('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm', import.meta.url).href,
    'tfjs-backend-wasm.wasm': new URL('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm', import.meta.url).href,
  };
}
