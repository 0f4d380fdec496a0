// pytorch-grad-cam (jacobgil/pytorch-grad-cam, commit 084273b): the BaseCAM pipeline shared by its methods.
import * as tf from '@tensorflow/tfjs-core';
import { CamBase, scaleCamImage, type CamOptions } from './cam-base.js';
import { projectFirstComponent } from './principal-component.js';

export interface PytorchCamOptions extends CamOptions {
  /**
   * pytorch-grad-cam's eigen_smooth: replace the channel sum of the weighted activations by their projection on
   * the first principal component (centred, as get_2d_projection). Default false. EigenCAM and EigenGradCAM always
   * project.
   */
  eigenSmooth?: boolean;
}

/** What a pytorch-grad-cam method returns. The caller disposes both tensors. */
export interface PytorchCamResult {
  /**
   * [N,h,w,1] at the layer's resolution: the map after the library's ReLU (np.maximum(cam, 0)) and before its
   * scale_cam_image. Its values are in the units of the method (e.g. score gradient × activation for GradCAM).
   */
  raw: tf.Tensor4D;
  /**
   * [N,H,W,1] at the input's resolution: what the library's call returns. Each map min-max scaled to 0..1,
   * resized with OpenCV's bilinear cv2.resize (half-pixel centres, no antialiasing), and min-max scaled again.
   */
  final: tf.Tensor4D;
  /** The class explained for each example (the top-1 class when no target was given). */
  targets: number[];
}

/** BaseCAM.forward for one target layer: cam image → ReLU (raw) → scale_cam_image to the input size (final). */
export abstract class PytorchGradCamMethod<Options extends PytorchCamOptions = PytorchCamOptions> extends CamBase {
  async explain(input: tf.Tensor4D, options?: Options): Promise<PytorchCamResult> {
    const targets = await this.targetsFor(input, options);
    const opts = (options ?? {}) as Options;
    const cam = await this.camImage(input, targets, opts);
    const raw = tf.tidy(() => tf.relu(cam)) as tf.Tensor4D;
    cam.dispose();
    const final = scaleCamImage(raw, [input.shape[1], input.shape[2]]);
    return { raw, final, targets };
  }

  /** The map [N,h,w,1] before the library's ReLU. */
  protected abstract camImage(input: tf.Tensor4D, targets: number[], options: Options): Promise<tf.Tensor4D>;
}

/**
 * Methods whose map combines "weighted activations" [N,h,w,C] over the channels: their sum, or with eigenSmooth
 * their projection on the first principal component (get_cam_image in BaseCAM and its overrides).
 */
export abstract class WeightedActivationsCam<Options extends PytorchCamOptions = PytorchCamOptions> extends PytorchGradCamMethod<Options> {
  /** [N,h,w,C], e.g. weights[n,k] · A[n,h,w,k]. */
  protected abstract weightedActivations(input: tf.Tensor4D, targets: number[], options: Options): Promise<tf.Tensor4D>;

  /** Whether the channels are combined by the principal-component projection instead of summed. */
  protected projects(options: Options): boolean {
    return options.eigenSmooth === true;
  }

  protected async camImage(input: tf.Tensor4D, targets: number[], options: Options): Promise<tf.Tensor4D> {
    const weighted = await this.weightedActivations(input, targets, options);
    try {
      if (this.projects(options)) return await projectFirstComponent(weighted);
      return tf.sum(weighted, 3, true) as tf.Tensor4D;
    } finally {
      weighted.dispose();
    }
  }
}

/** Methods with one weight per channel, computed from the activations and gradients: weights[n,k] · A[n,h,w,k]. */
export abstract class ChannelWeightsCam extends WeightedActivationsCam {
  /** [N,1,1,C] channel weights (get_cam_weights). */
  protected abstract channelWeights(activations: tf.Tensor4D, gradients: tf.Tensor4D): tf.Tensor4D;

  protected async weightedActivations(input: tf.Tensor4D, targets: number[], options: PytorchCamOptions): Promise<tf.Tensor4D> {
    const { activations, gradients } = await this.activationsAndGradients(input, targets);
    options.onProgress?.(1, 1);
    try {
      return tf.tidy(() => tf.mul(this.channelWeights(activations, gradients), activations) as tf.Tensor4D);
    } finally {
      tf.dispose([activations, gradients]);
    }
  }
}
