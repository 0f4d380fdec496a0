import * as tf from '@tensorflow/tfjs-core';
import { ExplainError } from './errors.js';

export interface PreprocessOptions {
  /** Resize so the shorter side has this length (bilinear), keeping the aspect ratio. Omit to keep the size. */
  resize?: number;
  /** Centre-crop to this size ([h, w] or a square side). Omit to keep the resized image whole. */
  crop?: number | [number, number];
  /** Per-channel mean subtracted after scaling. */
  mean?: number[];
  /** Per-channel standard deviation divided by after the mean. */
  std?: number[];
  /** x · scale[0] + scale[1], applied first to the 0..255 values. */
  scale?: [number, number];
}

/**
 * How pixels are scaled before the model sees them:
 * - 'imagenet': /255 then ImageNet mean/std (torchvision's recipe, what easy-explain does in Python);
 * - 'mobilenet': x/127.5 − 1 (Keras MobileNet);
 * - 'unit': x/255 (e.g. darknet_tiny);
 * - 'none': raw 0..255.
 * All share the geometry of `presetGeometry`: shorter side to 256/224 of the model's input, centre crop to it.
 */
export type PreprocessPreset = 'imagenet' | 'mobilenet' | 'unit' | 'none';
export const PRESET_NAMES: readonly PreprocessPreset[] = ['imagenet', 'mobilenet', 'unit', 'none'];

const PRESET_SCALING: Record<PreprocessPreset, Pick<PreprocessOptions, 'scale' | 'mean' | 'std'>> = {
  imagenet: { scale: [1 / 255, 0], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  mobilenet: { scale: [1 / 127.5, -1] },
  unit: { scale: [1 / 255, 0] },
  none: {},
};

export function checkPreset(name: string): PreprocessPreset {
  if (!PRESET_NAMES.includes(name as PreprocessPreset)) {
    throw new ExplainError('invalid_option', `Unknown preprocessing preset "${name}"; use one of: ${PRESET_NAMES.join(', ')}.`);
  }
  return name as PreprocessPreset;
}

/** Resize and crop for a model input [h,w]: torchvision's Resize(256) + CenterCrop(224), scaled to other sizes. */
export function presetGeometry(inputShape?: [number, number, number]): Pick<PreprocessOptions, 'resize' | 'crop'> {
  const [h, w] = inputShape && inputShape[0] > 0 && inputShape[1] > 0 ? inputShape : [224, 224];
  return { resize: Math.round((Math.min(h, w) * 256) / 224), crop: [h, w] };
}

/** A preset's full options for a model input [H,W,C] (224×224×3 when unknown); options pass through unchanged. */
export function presetOptions(preset: PreprocessPreset | PreprocessOptions, inputShape?: [number, number, number]): PreprocessOptions {
  if (typeof preset === 'object') return preset;
  const scaling = PRESET_SCALING[checkPreset(preset)];
  // One-channel models get the grey image, so one mean/std value applies (ImageNet's green, the brightest weight).
  if (inputShape?.[2] === 1 && scaling.mean) return { ...presetGeometry(inputShape), scale: scaling.scale, mean: [0.456], std: [0.224] };
  return { ...presetGeometry(inputShape), ...scaling };
}

/** torchvision's ImageNet recipe: shorter side 256, centre crop 224, /255, mean/std. */
export const IMAGENET_PRESET: PreprocessOptions = presetOptions('imagenet');
/** The same geometry with MobileNet's scaling to [-1, 1]: x / 127.5 − 1. */
export const MOBILENET_PRESET: PreprocessOptions = presetOptions('mobilenet');

/** RGB [H,W,3] → grey [H,W,1] with ITU-R 601 weights, for one-channel models. */
export function toGray(image: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => tf.sum(tf.mul(tf.cast(image, 'float32'), tf.tensor1d([0.2989, 0.587, 0.114])), -1, true) as tf.Tensor3D);
}

/** Resize (shorter side), centre-crop and normalise a decoded RGB image [H,W,C] (0..255) into a [1,h,w,C] batch. */
export function preprocess(image: tf.Tensor3D, options: PreprocessOptions | PreprocessPreset = 'imagenet'): tf.Tensor4D {
  const { resize, crop, mean, std, scale } = presetOptions(options);
  if (!(image instanceof tf.Tensor) || image.rank !== 3) {
    throw new ExplainError('invalid_input', `preprocess takes a decoded image [H,W,C]; got shape [${(image as tf.Tensor)?.shape}].`);
  }
  const [h, w, c] = image.shape;
  if (h === 0 || w === 0) throw new ExplainError('invalid_input', `The image [${image.shape}] is empty.`);
  for (const [name, values] of [['mean', mean], ['std', std]] as const) {
    if (values && values.length !== c && values.length !== 1) {
      throw new ExplainError('invalid_option', `${name} has ${values.length} values for an image with ${c} channels.`);
    }
  }
  return tf.tidy(() => {
    let x = tf.cast(image, 'float32') as tf.Tensor3D;
    let [height, width] = [h, w];
    if (resize !== undefined) {
      // torchvision's Resize(int): the shorter side becomes `resize`, the longer one is truncated proportionally.
      const ratio = resize / Math.min(h, w);
      [height, width] = h <= w ? [resize, Math.floor(w * ratio)] : [Math.floor(h * ratio), resize];
      x = tf.image.resizeBilinear(x, [height, width], false, true);
    }
    if (crop !== undefined) {
      const [ch, cw] = typeof crop === 'number' ? [crop, crop] : crop;
      if (ch > height || cw > width) {
        throw new ExplainError('invalid_option', `Cannot crop ${ch}×${cw} from an image of ${height}×${width}; resize it first.`);
      }
      const top = roundHalfEven((height - ch) / 2);
      const left = roundHalfEven((width - cw) / 2);
      x = tf.slice(x, [top, left, 0], [ch, cw, c]);
    }
    if (scale) x = tf.add(tf.mul(x, scale[0]), scale[1]);
    if (mean) x = tf.sub(x, tf.tensor1d(mean));
    if (std) x = tf.div(x, tf.tensor1d(std));
    return tf.expandDims(x, 0) as tf.Tensor4D;
  });
}

/** Python's round(), which torchvision's center_crop uses: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest !== 0.5) return Math.round(x);
  return floor % 2 === 0 ? floor : floor + 1;
}
