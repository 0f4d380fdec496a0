import * as tf from '@tensorflow/tfjs-core';
import { preprocess, presetGeometry, presetOptions, toGray, type PreprocessPreset } from '@easy-explain/core/internal';

/** Decoded RGB pixels, 8 bits per channel, row-major HWC. */
export interface RgbImage {
  data: Uint8Array;
  height: number;
  width: number;
}

/** What the model sees and what a figure shows: the same resize and crop, the second kept as 0..255 RGB bytes. */
export interface PreparedInput {
  /** [1,h,w,C] float32, normalised for the model; the caller disposes it. */
  input: tf.Tensor4D;
  /** The resized, cropped photo as bytes, for drawing under the heat map. */
  display: RgbImage & { channels: 3 };
}

/** Prepares a decoded image (RGB bytes, or a [H,W,3] 0..255 tensor the caller keeps) for a model. */
export async function prepareInput(
  image: RgbImage | tf.Tensor3D,
  preset: PreprocessPreset,
  inputShape?: [number, number, number],
): Promise<PreparedInput> {
  const pixels = image instanceof tf.Tensor ? image : tf.tensor3d(Float32Array.from(image.data), [image.height, image.width, 3]);
  try {
    const shown = tf.tidy(() => preprocess(pixels, presetGeometry(inputShape)));
    const [, height, width] = shown.shape;
    const values = await shown.data();
    shown.dispose();
    const data = Uint8Array.from(values, (v) => Math.max(0, Math.min(255, Math.round(v))));
    const input = tf.tidy(() => {
      const source = inputShape?.[2] === 1 ? toGray(pixels) : pixels;
      return preprocess(source, presetOptions(preset, inputShape));
    });
    return { input, display: { data, height, width, channels: 3 } };
  } finally {
    if (pixels !== image) pixels.dispose();
  }
}
