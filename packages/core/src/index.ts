// The public API of @easy-explain/core (docs/API.md). What the backends need beyond it is in ./internal.
export { VERSION } from './version.js';
export { IMAGENET_CLASSES } from './imagenet-classes.js';
export { ExplainError, type ExplainErrorCode } from './errors.js';
export type { AbortSignalLike } from './platform.js';
export {
  asModel,
  type AsModelOptions,
  type GraphModelLike,
  type LayersModelLike,
  type Model,
  type ModelFunction,
  type OutputKind,
} from './model.js';
export type { AttributeOptions, Attributor } from './attributors/attributor.js';
export type { AblationContext, AblationScorer, AblationScorerFactory, Region } from './attributors/feature-ablation.js';
export { Occlusion, windowCount, type OcclusionOptions, type Shape3 } from './attributors/occlusion.js';
export {
  IntegratedGradients,
  INTEGRATION_METHODS,
  type IntegratedGradientsOptions,
  type IntegrationMethod,
} from './attributors/integrated-gradients.js';
export { Saliency, type SaliencyOptions } from './attributors/saliency.js';
export { GuidedBackprop } from './attributors/guided-backprop.js';
export { LayerGradCam, type InterpolateMode, type LayerGradCamOptions } from './attributors/layer-grad-cam.js';
export { GuidedGradCam, type GuidedGradCamOptions } from './attributors/guided-grad-cam.js';
export { NoiseTunnel, NOISE_TUNNEL_TYPES, type NoiseTunnelOptions, type NoiseTunnelType } from './attributors/noise-tunnel.js';
export { predictClasses, type Prediction } from './predict.js';
export { parseLabels, indexLabels, type Labels } from './labels.js';
export { preprocess, PRESET_NAMES, type PreprocessOptions, type PreprocessPreset } from './preprocess.js';
export {
  METHODS,
  METHOD_NAMES,
  resolveMethodOptions,
  runMethod,
  type GradCamMethodOptions,
  type GuidedGradCamMethodOptions,
  type IntegratedGradientsMethodOptions,
  type CamMethodOptions,
  type LayerGradCamMethodOptions,
  type MethodEntry,
  type MethodName,
  type MethodOptions,
  type MethodOptionsByName,
  type MethodResult,
  type MethodRun,
  type NoiseTunnelInner,
  type NoiseTunnelMethodOptions,
  type OcclusionMethodOptions,
  type SaliencyMethodOptions,
  type SmoothGradMethodOptions,
  type TableMethodName,
} from './methods.js';
export {
  METRIC_NAMES,
  METRICS,
  runMetric,
  deletion,
  insertion,
  infidelity,
  gaussianPerturbation,
  fromPerturbedInputs,
  sensitivityMax,
  uniformPerturbation,
  modelRandomization,
  spearman,
  type AnyMetricOptions,
  type CurveOptions,
  type CurveResult,
  type ExplainFunction,
  type InfidelityOptions,
  type InfidelityPerturbFunction,
  type InfidelityResult,
  type LayerCorrelation,
  type MetricCurve,
  type MetricFunction,
  type MetricName,
  type MetricOptions,
  type MetricResult,
  type ModelRandomizationOptions,
  type ModelRandomizationResult,
  type Perturbation,
  type SensitivityOptions,
  type SensitivityPerturbFunction,
  type SensitivityResult,
} from './metrics/index.js';
export {
  GradCam,
  HiResCam,
  GradCamElementWise,
  GradCamPlusPlus,
  XGradCam,
  LayerCam,
  EigenCam,
  EigenGradCam,
  ScoreCam,
  AblationCam,
  TorchcamGradCam,
  TorchcamGradCamPP,
  SmoothGradCamPP,
  TorchcamLayerCam,
  PYTORCH_GRAD_CAM_METHODS,
  PYTORCH_GRAD_CAM_NAMES,
  TORCHCAM_METHODS,
  TORCHCAM_NAMES,
  pytorchGradCam,
  torchcam,
  camExplain,
  type AblationCamOptions,
  type CamExplainOptions,
  type CamExplanation,
  type CamMap,
  type CamOptions,
  type PytorchCamOptions,
  type PytorchCamResult,
  type PytorchGradCamName,
  type ScoreCamOptions,
  type SmoothGradCamPPOptions,
  type TorchcamName,
  type TorchcamOptions,
  type TorchcamResult,
} from './attributors/cam/index.js';
