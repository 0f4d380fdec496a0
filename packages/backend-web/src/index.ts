export { VERSION } from './version.js';

export { setupBackend, ensureBackend, backendAttempts, WEB_BACKENDS, type BackendAttempt, type SetupBackendOptions, type WebBackendName } from './backend.js';
export { decodeImage, type ImageSource, type RgbImage } from './image.js';
export { loadImage } from './load-image.js';
export { loadModel, DEFAULT_MODEL_URL, type LoadModelOptions, type LoadedModel, type ModelFormat, type ModelSource } from './model.js';
export { PRESET_NAMES, checkPreset, geometry, presetOptions, toGray, type PresetName } from './preset.js';
export { prepareInput, type PreparedInput, type EasyExplainOptions as SharedEasyExplainOptions } from '@easy-explain/runtime';
export { runEasyExplain, type EasyExplainOptions, type EasyExplainResult, type Explanation, type Figure } from './explain.js';
export { serveExplainWorker, type ExplainWorkerOptions } from './worker.js';
export { serveOcclusionHelper, resolveWebWorkers } from './pool.js';
export { ExplainWorkerClient, type JobOptions } from './client.js';
export type {
  BackendInfo,
  ExplainResult,
  ModelInfo,
  RawAttributeOptions,
  RawInnerOptions,
  RawMethod,
  RawOcclusionOptions,
  WorkerReply,
  WorkerRequest,
  WorkerScope,
} from './protocol.js';
export { createExplainer, type Explainer, type ExplainerModelSource, type ExplainerOptions, type ExplainOptions, type ExplainerResult } from './explainer.js';
export { startExplainWorker, startFigureWorker } from './workers.js';
export { drawFigures, serveFigureWorker, FigureRenderer, type FigureRequest, type FigureRow } from './figures.js';
export { EasyExplainView, defineEasyExplainView, EASY_EXPLAIN_VIEW_TAG } from './element.js';
