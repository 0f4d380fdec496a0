import * as tf from '@tensorflow/tfjs-core';
import { dilateSpatial, padOrCrop } from './dilate.js';

export interface DepthwiseAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * dL/dx of a depthwise convolution from ops every backend has (wasm lacks DepthwiseConv2dNativeBackpropInput):
 * the stride-dilated dy, padded, convolved per channel with the spatially flipped filter.
 */
export function depthwiseInputGradient(
  xShape: [number, number, number, number],
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  attrs: DepthwiseAttrs,
): tf.Tensor4D {
  return tf.tidy(() => {
    const dilations = attrs.dilations ?? 1;
    const info = tf.backend_util.computeConv2DInfo(
      xShape, filter.shape as [number, number, number, number], attrs.strides, dilations, attrs.pad, attrs.dimRoundingMode, true,
    );
    const [n, h, w, c] = xShape;
    const [kh, kw, , m] = filter.shape;
    const spread = dilateSpatial(dy, info.strideHeight, info.strideWidth);
    const padTop = info.effectiveFilterHeight - 1 - info.padInfo.top;
    const padLeft = info.effectiveFilterWidth - 1 - info.padInfo.left;
    const padBottom = h + info.effectiveFilterHeight - 1 - padTop - spread.shape[1];
    const padRight = w + info.effectiveFilterWidth - 1 - padLeft - spread.shape[2];
    const framed = padOrCrop(spread, padTop, padBottom, padLeft, padRight);
    const flipped = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, c * m, 1]) as tf.Tensor4D;
    const perChannel = tf.depthwiseConv2d(framed, flipped, 1, 'valid', 'NHWC', [info.dilationHeight, info.dilationWidth]);
    if (m === 1) return perChannel;
    return tf.sum(tf.reshape(perChannel, [n, h, w, c, m]), 4) as tf.Tensor4D;
  });
}
