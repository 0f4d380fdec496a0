// @easy-explain/runtime: what both backends do the same way, written once. Backends re-export the parts users see.
export { backendAttempts, firstLine, resolveBackend, type BackendAttempt } from './backends.js';
export {
  checkExplainOptions,
  explainImage,
  type EasyExplainOptions,
  type EasyExplainResult,
  type ExplainPlatform,
  type Explanation,
  type FigureInfo,
  type ModelMetadata,
} from './explain.js';
export { imagenetLabels, resolveLabels, type LabelsSource } from './labels.js';
export { prepareInput, type PreparedInput, type RgbImage } from './prepare.js';
export { checkVis, DEFAULT_VIS_SIGNS, DEFAULT_VIS_TYPES, parseVisRow } from './vis.js';
export { PendingRequests, type PendingEntry } from './pending.js';
export {
  buildLoadedModel,
  DEFAULT_MODEL_URL,
  detectFormat,
  filesFromArtifacts,
  httpModelSource,
  isOnnxName,
  modelCapReason,
  readModelFiles,
  shardCapReason,
  type LoadedModel,
  type LoadModelOptions,
  type ModelFiles,
  type ModelFileSource,
  type ModelFormat,
} from './model.js';
export {
  download,
  downloadTimeoutMs,
  shardUrl,
  DOWNLOAD_TIMEOUT_MS,
  IMAGE_MAX_BYTES,
  MODEL_JSON_MAX_BYTES,
  MODEL_MAX_BYTES,
  SHARD_MAX_BYTES,
  type ByteBudget,
  type DownloadOptions,
} from './download.js';
export { validateWeightsManifest, shardPathProblem, MAX_SHARDS, type ShardGroup, type WeightSpec } from './manifest.js';
export { printable, hasControl } from './text.js';
export { explainCams, type CamExplainRunOptions, type CamExplainRunResult } from './cam-explain.js';
export { nchwAblationScorer, predictNHWC, toNCHW, type PredictNCHW } from './nchw.js';
