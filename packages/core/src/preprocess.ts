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

export type PreprocessPreset = 'imagenet' | 'mobilenet' | 'none';

/** torchvision's ImageNet recipe: shorter side 256, centre crop 224, /255, mean/std. */
export const IMAGENET_PRESET: PreprocessOptions = {
  resize: 256,
  crop: 224,
  scale: [1 / 255, 0],
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};
/** The same geometry with MobileNet's scaling to [-1, 1]: x / 127.5 − 1. */
export const MOBILENET_PRESET: PreprocessOptions = { resize: 256, crop: 224, scale: [1 / 127.5, -1] };

export function presetOptions(preset: PreprocessPreset | PreprocessOptions): PreprocessOptions {
  if (typeof preset === 'object') return preset;
  switch (preset) {
    case 'imagenet':
      return IMAGENET_PRESET;
    case 'mobilenet':
      return MOBILENET_PRESET;
    case 'none':
      return {};
    default:
      throw new ExplainError('invalid_option', `Unknown preprocessing preset "${String(preset)}"; use 'imagenet', 'mobilenet' or 'none'.`);
  }
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
