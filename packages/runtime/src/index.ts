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
