import { serveExplainWorker } from '@easy-explain/backend-web';

// TF.js, the model and the attribution live here, so the page never freezes.
serveExplainWorker(self as unknown as Parameters<typeof serveExplainWorker>[0]);
