import * as tf from '@tensorflow/tfjs-core';

/**
 * Spreads [N,h,w,C] to [N,h·sh,w·sw,C] with each value at (i·sh, j·sw) and zeros between (a strided scatter).
 * One axis at a time with rank-4 pads only: the webgpu backend's Pad shader fails to compile for rank 6 (WGSL has no
 * vec6) and then hands back a stale buffer instead of an error.
 */
export function dilateSpatial(t: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return t;
  return tf.tidy(() => {
    const [n, h, w, c] = t.shape;
    let out: tf.Tensor4D = t;
    if (sh > 1) {
      const rows = tf.pad(tf.reshape(out, [n, h, 1, w * c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0]]);
      out = tf.reshape(rows, [n, h * sh, w, c]);
    }
    if (sw > 1) {
      const cols = tf.pad(tf.reshape(out, [n * h * sh, w, 1, c]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]);
      out = tf.reshape(cols, [n, h * sh, w * sw, c]);
    }
    return out;
  });
}

/** Pads (positive) or crops (negative) the spatial axes of [N,H,W,C]. */
export function padOrCrop(t: tf.Tensor4D, top: number, bottom: number, left: number, right: number, value = 0): tf.Tensor4D {
  const [n, h, w, c] = t.shape;
  const cropTop = Math.max(0, -top);
  const cropLeft = Math.max(0, -left);
  const keepH = h - cropTop - Math.max(0, -bottom);
  const keepW = w - cropLeft - Math.max(0, -right);
  let out = t;
  if (cropTop || cropLeft || keepH !== h || keepW !== w) out = tf.slice(out, [0, cropTop, cropLeft, 0], [n, keepH, keepW, c]);
  const pads: Array<[number, number]> = [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]];
  if (pads.some(([a, b]) => a || b)) out = tf.pad(out, pads, value);
  return out;
}
