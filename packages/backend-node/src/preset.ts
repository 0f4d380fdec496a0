import * as tf from '@tensorflow/tfjs-core';
import { ExplainError, preprocess, type PreprocessOptions } from '@easy-explain/core';

/**
 * How pixels are scaled before the model sees them:
 * - 'imagenet': /255 then ImageNet mean/std (torchvision's recipe, what easy-explain does in Python);
 * - 'mobilenet': x/127.5 − 1 (Keras MobileNet, the default model);
 * - 'unit': x/255 (e.g. darknet_tiny);
 * - 'none': raw 0..255.
 * All share the geometry: shorter side to 256/224 of the model's input, centre crop to the input size.
 */
export type PresetName = 'imagenet' | 'mobilenet' | 'unit' | 'none';
export const PRESET_NAMES: readonly PresetName[] = ['imagenet', 'mobilenet', 'unit', 'none'];

const SCALING: Record<PresetName, Pick<PreprocessOptions, 'scale' | 'mean' | 'std'>> = {
  imagenet: { scale: [1 / 255, 0], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  mobilenet: { scale: [1 / 127.5, -1] },
  unit: { scale: [1 / 255, 0] },
  none: {},
};

export function checkPreset(name: string): PresetName {
  if (!PRESET_NAMES.includes(name as PresetName)) {
    throw new ExplainError('invalid_option', `Unknown preset "${name}"; use one of: ${PRESET_NAMES.join(', ')}.`);
  }
  return name as PresetName;
}

/** Resize and crop for a model input [h,w]: torchvision's Resize(256)+CenterCrop(224), scaled to other sizes. */
export function geometry(inputShape?: [number, number, number]): Pick<PreprocessOptions, 'resize' | 'crop'> {
  const [h, w] = inputShape && inputShape[0] > 0 && inputShape[1] > 0 ? inputShape : [224, 224];
  return { resize: Math.round((Math.min(h, w) * 256) / 224), crop: [h, w] };
}

export function presetOptions(name: PresetName, inputShape?: [number, number, number]): PreprocessOptions {
  const scaling = SCALING[checkPreset(name)];
  const channels = inputShape?.[2] ?? 3;
  // One-channel models get the grey image, so one mean/std value applies (ImageNet's green, the brightest weight).
  if (channels === 1 && scaling.mean) return { ...geometry(inputShape), scale: scaling.scale, mean: [0.456], std: [0.224] };
  return { ...geometry(inputShape), ...scaling };
}

/** RGB [H,W,3] → grey [H,W,1] with ITU-R 601 weights, for one-channel models. */
export function toGray(image: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const rgb = tf.cast(image, 'float32');
    return tf.sum(tf.mul(rgb, tf.tensor1d([0.2989, 0.587, 0.114])), -1, true) as tf.Tensor3D;
  });
}

/**
 * The model input [1,h,w,C] and the same crop in 0..1 for display [1,h,w,C], from a decoded RGB image.
 * The caller disposes both.
 */
export function prepareInput(
  image: tf.Tensor3D,
  preset: PresetName,
  inputShape?: [number, number, number],
): { input: tf.Tensor4D; display: tf.Tensor4D } {
  const gray = inputShape?.[2] === 1 ? toGray(image) : undefined;
  const source = gray ?? image;
  try {
    const input = preprocess(source, presetOptions(preset, inputShape));
    const display = preprocess(source, { ...geometry(inputShape), scale: [1 / 255, 0] });
    return { input, display };
  } finally {
    gray?.dispose();
  }
}
