/** How an attribution is drawn: Captum's `ImageVisualizationMethod`. */
export type VisMethod = 'heat_map' | 'blended_heat_map' | 'original_image' | 'masked_image' | 'alpha_scaling';
/** Which attributions are drawn: Captum's `VisualizeSign`. */
export type VisSign = 'positive' | 'negative' | 'absolute_value' | 'all';

export const VIS_METHODS: readonly VisMethod[] = [
  'heat_map',
  'blended_heat_map',
  'original_image',
  'masked_image',
  'alpha_scaling',
];
export const VIS_SIGNS: readonly VisSign[] = ['positive', 'negative', 'absolute_value', 'all'];

/**
 * An H×W×C array, row-major with channels last (one image of an NHWC batch), as a flat typed array.
 * Attributions are any float array; images are RGB (or one grey channel) in 0..1 or 0..255.
 */
export interface HWC {
  data: Float32Array | Float64Array | Uint8Array | Uint8ClampedArray;
  height: number;
  width: number;
  channels: number;
}

/** RGBA pixels, 8 bits per channel, straight (not premultiplied) alpha: what a canvas `ImageData` holds. */
export interface ImageDataLike {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
}
