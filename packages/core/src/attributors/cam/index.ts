export {
  CamBase,
  checkCamLayer,
  checkCamModel,
  minMaxScale,
  pickScores,
  resizeBilinearHalfPixel,
  scaleCamImage,
  topClasses,
  type CamOptions,
  type LayerState,
} from './cam-base.js';
export { firstComponentProjection, projectFirstComponent, symmetricEigen } from './principal-component.js';
export {
  ChannelWeightsCam,
  PytorchGradCamMethod,
  WeightedActivationsCam,
  type PytorchCamOptions,
  type PytorchCamResult,
} from './pytorch-grad-cam-base.js';
export { GradCam } from './grad-cam.js';
export { HiResCam } from './hires-cam.js';
export { GradCamElementWise } from './grad-cam-element-wise.js';
export { GradCamPlusPlus } from './grad-cam-plus-plus.js';
export { XGradCam } from './xgrad-cam.js';
export { LayerCam } from './layer-cam.js';
export { EigenCam } from './eigen-cam.js';
export { EigenGradCam } from './eigen-grad-cam.js';
export { ScoreCam, type ScoreCamOptions } from './score-cam.js';
export { AblationCam, type AblationCamOptions } from './ablation-cam.js';
export { TorchcamMethod, type TorchcamOptions, type TorchcamResult, type WeightedLayer } from './torchcam-base.js';
export { TorchcamGradCam } from './torchcam-grad-cam.js';
export { TorchcamGradCamPP } from './torchcam-grad-cam-pp.js';
export { SmoothGradCamPP, type SmoothGradCamPPOptions } from './smooth-grad-cam-pp.js';
export { TorchcamLayerCam } from './torchcam-layer-cam.js';
export {
  PYTORCH_GRAD_CAM_METHODS,
  PYTORCH_GRAD_CAM_NAMES,
  TORCHCAM_METHODS,
  TORCHCAM_NAMES,
  pytorchGradCam,
  torchcam,
  type PytorchGradCamName,
  type TorchcamName,
} from './methods.js';
export { camExplain, type CamExplainOptions, type CamExplanation, type CamMap } from './cam-explain.js';
