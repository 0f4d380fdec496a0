import { serveExplainWorker } from '@easy-explain/backend-web';

// TF.js, the model and the attribution live here, so the page never freezes. Occlusion on the CPU backends also
// runs in helper workers, one per core.
serveExplainWorker(self as unknown as Parameters<typeof serveExplainWorker>[0], {
  spawnHelper: () => new Worker(new URL('./helper-worker.ts', import.meta.url), { type: 'module' }),
});
