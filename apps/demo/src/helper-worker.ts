import { serveOcclusionHelper } from '@easy-explain/backend-web';

// Scores a share of the occlusion windows for the explanation worker (worker.ts), on its own core.
serveOcclusionHelper(self as unknown as Parameters<typeof serveOcclusionHelper>[0]);
