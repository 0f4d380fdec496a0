import * as tf from '@tensorflow/tfjs-core';
import { decodeImage, type ImageSource } from './image.js';

/** Decodes an image into a [H,W,3] int32 tensor of 0..255, as backend-node's loadImage. */
export async function loadImage(source: ImageSource): Promise<tf.Tensor3D> {
  const image = await decodeImage(source);
  return tf.tensor3d(Int32Array.from(image.data), [image.height, image.width, 3], 'int32');
}
