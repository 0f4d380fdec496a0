// An occlusion helper the explanation worker (explain-worker.ts) starts: it scores a share of the windows on its own core.
import { serveOcclusionHelper } from './pool.js';
import type { WorkerScope } from './protocol.js';
import { usePackagedWasm } from './wasm-paths.js';

usePackagedWasm();

serveOcclusionHelper(self as unknown as WorkerScope);
