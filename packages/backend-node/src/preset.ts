import * as tf from '@tensorflow/tfjs-core';
import { preprocess, presetGeometry as geometry, presetOptions, toGray, type PreprocessPreset as PresetName } from '@easy-explain/core';

// The presets are core's (shared with the browser); this module adds the Node-side input preparation.
export {
  checkPreset,
  PRESET_NAMES,
  presetGeometry as geometry,
  presetOptions,
  toGray,
  type PreprocessPreset as PresetName,
} from '@easy-explain/core';

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
