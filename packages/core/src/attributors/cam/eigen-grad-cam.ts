import { HiResCam } from './hires-cam.js';

/**
 * pytorch-grad-cam's EigenGradCAM: HiResCAM's ∂score/∂A ⊙ A, projected on its first principal component instead of
 * summed over channels.
 */
export class EigenGradCam extends HiResCam {
  protected override projects(): boolean {
    return true;
  }
}
