import * as tf from '@tensorflow/tfjs-core';
import { dilateSpatial, padOrCrop } from './dilate.js';

export interface MaxPoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * dL/dx of max pooling where each window sends its gradient to its first maximum in row-major order (PyTorch's and
 * the tfjs cpu backend's rule; the wasm kernel splits ties differently). Built from slices, so it runs on any backend.
 */
export function maxPoolInputGradient(dy: tf.Tensor4D, x: tf.Tensor4D, y: tf.Tensor4D, attrs: MaxPoolAttrs): tf.Tensor4D {
  return tf.tidy(() => {
    const info = tf.backend_util.computePool2DInfo(x.shape, attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
    const [n, h, w, c] = x.shape;
    const { strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
    const fh = info.effectiveFilterHeight;
    const fw = info.effectiveFilterWidth;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    // Padded input covering every window; padding never wins a max.
    const fullH = (oh - 1) * sh + fh;
    const fullW = (ow - 1) * sw + fw;
    const xp = padOrCrop(x, top, fullH - h - top, left, fullW - w - left, -3.4e38);
    let taken: tf.Tensor = tf.zerosLike(y);
    let dx: tf.Tensor4D | undefined;
    for (let i = 0; i < fh; i++) {
      for (let j = 0; j < fw; j++) {
        const window = tf.stridedSlice(xp, [0, i, j, 0], [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, c], [1, sh, sw, 1]) as tf.Tensor4D;
        const first = tf.mul(tf.cast(tf.equal(window, y), 'float32'), tf.sub(1, taken)) as tf.Tensor4D;
        taken = tf.add(taken, first);
        const spread = dilateSpatial(tf.mul(dy, first) as tf.Tensor4D, sh, sw);
        // Place the (i, j) offset's contributions in the unpadded input frame.
        const placed = padOrCrop(spread, i - top, h - (i - top) - spread.shape[1], j - left, w - (j - left) - spread.shape[2]);
        dx = dx ? (tf.add(dx, placed) as tf.Tensor4D) : placed;
      }
    }
    return dx as tf.Tensor4D;
  });
}
