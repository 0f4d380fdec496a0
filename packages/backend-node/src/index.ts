export { VERSION } from './version.js';

export { setupBackend, wasmDirectory, BACKEND_NAMES, type BackendName } from './backend.js';
export {
  loadModel,
  loadDefaultModel,
  resolveModel,
  defaultCacheDir,
  cachedModelDir,
  DEFAULT_MODEL_URL,
  type LoadedModel,
  type LoadModelOptions,
  type DefaultModelOptions,
  type NodeLoadModelOptions,
  type ModelFormat,
} from './model.js';
export { loadImage, decodeImage, imageMaxBytes, MAX_IMAGE_SIDE, type ImageOptions, type ImageSource, type RgbImage } from './image.js';
export { DOWNLOAD_TIMEOUT_MS, IMAGE_MAX_BYTES, MODEL_JSON_MAX_BYTES, MODEL_MAX_BYTES, SHARD_MAX_BYTES } from '@easy-explain/runtime';
export { loadLabels } from './labels.js';
export { imagenetLabels, backendAttempts, type BackendAttempt } from '@easy-explain/runtime';
export { PRESET_NAMES, presetOptions, type PresetName } from './preset.js';
export { prepareInput, type PreparedInput } from '@easy-explain/runtime';
export { DEFAULT_VIS_TYPES, DEFAULT_VIS_SIGNS, checkVis, parseVisRow } from '@easy-explain/runtime';
export { registerFonts, drawRow, FIGURE_FONT, type Figure } from './figures.js';
export { runCamExplain, runEasyExplain, type CamExplainOptions, type CamExplainResult, type EasyExplainOptions, type EasyExplainResult, type Explanation } from './explain.js';
export { ExplainError } from '@easy-explain/core';
export {
  explainBatch,
  imageKey,
  removeAbandonedPartials,
  IMAGES_DIR,
  IMAGE_RECORD,
  type BatchImage,
  type BatchItem,
  type BatchMethod,
  type BatchOptions,
  type BatchRun,
  type ImageRecord,
  type TargetRule,
} from './batch.js';
export { encodeNpy, decodeNpy, type NpyArray } from './npy.js';
export { EXPLANATION_SCHEMA_VERSION, ATTRIBUTION_FILE, type ExplanationFile, type AttributionFileInfo } from './explanation-file.js';
export { writeReport, reportHtml, readImageRecords, FAILURES_FILE, type ReportFailure } from './report.js';
export { NATIVE_BATCH, OnnxEngine, nativeOcclusionScorer, type OnnxEngineOptions } from './native/onnx-engine.js';
