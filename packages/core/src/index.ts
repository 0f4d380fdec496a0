export { ExplainError, throwIfAborted, type ExplainErrorCode } from './errors.js';
export { yieldToEventLoop, type AbortSignalLike } from './platform.js';
export {
  asModel,
  predictScores,
  type AsModelOptions,
  type GraphModelLike,
  type LayersModelLike,
  type Model,
  type ModelFunction,
  type OcclusionWorkerOptions,
  type OcclusionWorkers,
  type OutputKind,
} from './model.js';
export {
  baselineValues,
  checkImageBatch,
  positiveInteger,
  resolveTargets,
  type AttributeOptions,
  type Attributor,
} from './attributors/attributor.js';
export {
  AblationAttributor,
  defaultPerturbationsPerEval,
  fullForwardScorer,
  MAX_DEFAULT_PERTURBATIONS_PER_EVAL,
  PERTURBATION_BATCH_BYTES,
  type AblationContext,
  type AblationOptions,
  type AblationScorer,
  type AblationScorerFactory,
  type Region,
} from './attributors/feature-ablation.js';
export { Occlusion, checkWindows, occlusionScorerFactory, windowCount, type OcclusionOptions, type Shape3 } from './attributors/occlusion.js';
export {
  inThreadPoolWorker,
  MAX_AUTO_WORKERS,
  occlusionPoolScorer,
  OcclusionPoolJobs,
  OcclusionWorkerPool,
  type OcclusionPoolReply,
  type OcclusionPoolRequest,
  type OcclusionPoolWorker,
  type PooledOcclusionWorker,
} from './attributors/occlusion-pool.js';
export { predictClasses, type Prediction } from './predict.js';
export { parseLabels, indexLabels, type Labels } from './labels.js';
export {
  preprocess,
  presetOptions,
  presetGeometry,
  checkPreset,
  toGray,
  PRESET_NAMES,
  IMAGENET_PRESET,
  MOBILENET_PRESET,
  type PreprocessOptions,
  type PreprocessPreset,
} from './preprocess.js';
export {
  METHOD_NAMES,
  occlusionSettings,
  runMethod,
  type MethodName,
  type MethodRun,
  type MethodSettings,
} from './methods.js';
export {
  GradientAttribution,
  classCount,
  inputGradients,
  layerGradients,
  targetScore,
  type GradientMode,
} from './attributors/gradient-attribution.js';
export {
  IntegratedGradients,
  INTEGRATION_METHODS,
  IG_BATCH_ELEMENTS,
  approximationParameters,
  defaultInternalBatchSize,
  type IntegratedGradientsOptions,
  type IntegrationMethod,
} from './attributors/integrated-gradients.js';
export { Saliency, type SaliencyOptions } from './attributors/saliency.js';
export { GuidedBackprop } from './attributors/guided-backprop.js';
export { LayerGradCam, type InterpolateMode, type LayerGradCamOptions } from './attributors/layer-grad-cam.js';
export { GuidedGradCam, type GuidedGradCamOptions } from './attributors/guided-grad-cam.js';
export { NoiseTunnel, NOISE_TUNNEL_TYPES, type NoiseTunnelOptions, type NoiseTunnelType } from './attributors/noise-tunnel.js';
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
export * from './attributors/cam/index.js';
