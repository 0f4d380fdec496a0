// Everything the backends and tests use beyond the public API. Not covered by semver: import from
// '@easy-explain/core/internal' only inside this project.
export * from './index.js';
export { throwIfAborted } from './errors.js';
export { nowMs, yieldToEventLoop } from './platform.js';
export { predictScores } from './model.js';
export { baselineValues, checkImageBatch, positiveInteger, resolveTargets, uniformBaselineArray } from './attributors/attributor.js';
export {
  AblationAttributor,
  defaultPerturbationsPerEval,
  fullForwardScorer,
  MAX_DEFAULT_PERTURBATIONS_PER_EVAL,
  PARTIAL_INTERVAL_MS,
  PERTURBATION_BATCH_BYTES,
  type AblationContext,
  type AblationOptions,
  type AblationScorer,
  type AblationScorerFactory,
  type Region,
} from './attributors/feature-ablation.js';
export { checkWindows, occlusionScorerFactory } from './attributors/occlusion.js';
export {
  occlusionWorkersOf,
  setOcclusionWorkers,
  occlusionEngineOf,
  setOcclusionEngine,
  type OcclusionEngine,
  type OcclusionEngineOptions,
  type OcclusionWorkerOptions,
  type OcclusionWorkers,
  type OcclusionWorkersProvider,
} from './attributors/occlusion-workers.js';
export {
  inThreadPoolWorker,
  poolForwardScorer,
  baselineOf,
  MAX_AUTO_WORKERS,
  occlusionPoolScorer,
  OcclusionPoolJobs,
  OcclusionWorkerPool,
  type OcclusionPoolReply,
  type OcclusionPoolRequest,
  type OcclusionPoolWorker,
  type PooledOcclusionWorker,
} from './attributors/occlusion-pool.js';
export { answerForward, inThreadForward, type ForwardRequest, type ForwardScorer, type Shape4 } from './attributors/forward-scorer.js';
export {
  checkWorkers,
  forwardEngineOf,
  forwardScorerFor,
  scoreBatches,
  setForwardEngine,
  type ForwardEngine,
  type ForwardWorkerOptions,
} from './attributors/forward-workers.js';
export {
  presetOptions,
  presetGeometry,
  checkPreset,
  toGray,
  IMAGENET_PRESET,
  MOBILENET_PRESET,
} from './preprocess.js';
export { methodEntry, occlusionWindows } from './methods.js';
export {
  GradientAttribution,
  classCount,
  inputGradients,
  layerGradients,
  targetScore,
  type GradientMode,
} from './attributors/gradient-attribution.js';
export {
  IG_BATCH_ELEMENTS,
  approximationParameters,
  defaultInternalBatchSize,
} from './attributors/integrated-gradients.js';
export { withGradientRules } from './kernels/gradient-overrides.js';
export { ensureGradients } from './kernels/ensure-gradients.js';
export {
  incrementalScorer,
  occlusionFlops,
  planIncremental,
  type IncrementalOptions,
  type IncrementalScorer,
  type OcclusionFlops,
  type OcclusionFlopsOptions,
  type PlanResult,
} from './incremental/index.js';
export {
  causalCurve,
  pixelOrder,
  riseBlur,
  riseKernel1d,
  RISE_BLUR_SIGMA,
  RISE_BLUR_SIZE,
  trapezoidAuc,
} from './metrics/index.js';
export * from './attributors/cam/index.js';
