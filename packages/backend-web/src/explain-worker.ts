// The explanation worker that `createExplainer` and `startExplainWorker` start. It lives in this package's dist so
// that bundlers (Vite, webpack 5, rollup, Parcel) find it from the `new Worker(new URL(...))` that names it, and apps
// need no worker file of their own.
import { serveExplainWorker } from './worker.js';
import type { WorkerScope } from './protocol.js';
import { usePackagedWasm } from './wasm-paths.js';

usePackagedWasm();

serveExplainWorker(self as unknown as WorkerScope, {
  // Occlusion on the CPU backends spreads over one helper per core.
  spawnHelper: () => new Worker(new URL('./occlusion-helper-worker.js', import.meta.url), { type: 'module' }),
});
