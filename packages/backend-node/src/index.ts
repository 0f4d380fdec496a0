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
  type ModelFormat,
} from './model.js';
export { loadImage, decodeImage, MAX_IMAGE_SIDE, type ImageSource, type RgbImage } from './image.js';
export { loadLabels } from './labels.js';
export { imagenetLabels, backendAttempts, type BackendAttempt } from '@easy-explain/runtime';
export { PRESET_NAMES, presetOptions, type PresetName } from './preset.js';
export { prepareInput, type PreparedInput } from '@easy-explain/runtime';
export { DEFAULT_VIS_TYPES, DEFAULT_VIS_SIGNS, checkVis, parseVisRow } from '@easy-explain/runtime';
export { registerFonts, drawRow, FIGURE_FONT, type Figure } from './figures.js';
export { runEasyExplain, type EasyExplainOptions, type EasyExplainResult, type Explanation } from './explain.js';
export { ExplainError } from '@easy-explain/core';
export { OnnxEngine, nativeOcclusionScorer, type OnnxEngineOptions } from './native/onnx-engine.js';
