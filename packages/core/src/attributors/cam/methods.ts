// The CAM methods by name: pytorch-grad-cam's and torchcam's class names, for the CLI and runEasyExplain to map onto.
import { ExplainError } from '../../errors.js';
import type { Model } from '../../model.js';
import { AblationCam } from './ablation-cam.js';
import { EigenCam } from './eigen-cam.js';
import { EigenGradCam } from './eigen-grad-cam.js';
import { GradCam } from './grad-cam.js';
import { GradCamElementWise } from './grad-cam-element-wise.js';
import { GradCamPlusPlus } from './grad-cam-plus-plus.js';
import { HiResCam } from './hires-cam.js';
import { LayerCam } from './layer-cam.js';
import { ScoreCam } from './score-cam.js';
import { XGradCam } from './xgrad-cam.js';
import { SmoothGradCamPP } from './smooth-grad-cam-pp.js';
import { TorchcamGradCam } from './torchcam-grad-cam.js';
import { TorchcamGradCamPP } from './torchcam-grad-cam-pp.js';
import { TorchcamLayerCam } from './torchcam-layer-cam.js';

/** pytorch-grad-cam's methods by its class names; each `explain` returns { raw, final, targets }. */
export const PYTORCH_GRAD_CAM_METHODS = {
  GradCAM: GradCam,
  HiResCAM: HiResCam,
  GradCAMElementWise: GradCamElementWise,
  GradCAMPlusPlus: GradCamPlusPlus,
  XGradCAM: XGradCam,
  LayerCAM: LayerCam,
  EigenCAM: EigenCam,
  EigenGradCAM: EigenGradCam,
  ScoreCAM: ScoreCam,
  AblationCAM: AblationCam,
} as const;
export type PytorchGradCamName = keyof typeof PYTORCH_GRAD_CAM_METHODS;
export const PYTORCH_GRAD_CAM_NAMES = Object.keys(PYTORCH_GRAD_CAM_METHODS) as PytorchGradCamName[];

/** torchcam's extractors by its class names; each `explain` returns { map, targets } (normalised by default). */
export const TORCHCAM_METHODS = {
  GradCAM: TorchcamGradCam,
  GradCAMpp: TorchcamGradCamPP,
  SmoothGradCAMpp: SmoothGradCamPP,
  LayerCAM: TorchcamLayerCam,
} as const;
export type TorchcamName = keyof typeof TORCHCAM_METHODS;
export const TORCHCAM_NAMES = Object.keys(TORCHCAM_METHODS) as TorchcamName[];

/** A pytorch-grad-cam method by name on one layer (default: the last spatial layer before global pooling). */
export function pytorchGradCam(name: PytorchGradCamName, model: Model, layer?: string) {
  if (!Object.prototype.hasOwnProperty.call(PYTORCH_GRAD_CAM_METHODS, name)) {
    throw new ExplainError('invalid_option', `Unknown pytorch-grad-cam method "${String(name)}"; use one of: ${PYTORCH_GRAD_CAM_NAMES.join(', ')}.`);
  }
  return new PYTORCH_GRAD_CAM_METHODS[name](model, layer);
}

/** A torchcam extractor by name on one layer (default: the last spatial layer before global pooling). */
export function torchcam(name: TorchcamName, model: Model, layer?: string) {
  if (!Object.prototype.hasOwnProperty.call(TORCHCAM_METHODS, name)) {
    throw new ExplainError('invalid_option', `Unknown torchcam method "${String(name)}"; use one of: ${TORCHCAM_NAMES.join(', ')}.`);
  }
  return new TORCHCAM_METHODS[name](model, layer);
}
