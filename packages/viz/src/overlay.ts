// torchcam's overlay_mask (what easy-explain's CAMExplain draws): the mask resized to the image with PIL's bicubic
// filter, squared, coloured with a colour map, and blended with the image. Pure pixels, no TF.js.
import { colormap, type Colormap } from './colormap.js';
import { ExplainError } from './errors.js';
import type { HWC, ImageDataLike } from './types.js';

/** A one-channel map, row-major (e.g. a CAM from core's camExplain). */
export interface MaskLike {
  data: ArrayLike<number>;
  height: number;
  width: number;
}

export interface OverlayMaskOptions {
  /**
   * Weight of the image in the blend, in [0, 1): out = alpha·image + (1 − alpha)·coloured mask. Default 0.7
   * (torchcam's); easy-explain's CAMExplain passes 0.5.
   */
  alpha?: number;
  /** Colour map of the mask; default 'jet' (torchcam's). */
  colormap?: string | Colormap;
}

const A = -0.5; // PIL's bicubic parameter

/** PIL's bicubic kernel (Keys, a = −0.5). */
function bicubic(x: number): number {
  x = Math.abs(x);
  if (x < 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * A;
  return 0;
}

/** PIL's precompute_coeffs for one axis: per output index, the first input index and the normalised weights. */
function coefficients(inSize: number, outSize: number): Array<{ first: number; weights: Float64Array }> {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1); // widens the kernel when shrinking (antialiasing)
  const support = 2 * filterScale;
  const rows: Array<{ first: number; weights: Float64Array }> = [];
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    const first = Math.max(Math.trunc(center - support + 0.5), 0);
    const last = Math.min(Math.trunc(center + support + 0.5), inSize);
    const weights = new Float64Array(Math.max(last - first, 0));
    let total = 0;
    for (let k = 0; k < weights.length; k++) {
      weights[k] = bicubic((k + first - center + 0.5) / filterScale);
      total += weights[k];
    }
    // Taps falling outside the image are dropped and the rest renormalised.
    if (total !== 0) for (let k = 0; k < weights.length; k++) weights[k] /= total;
    rows.push({ first, weights });
  }
  return rows;
}

function checkMask(mask: MaskLike, what: string): void {
  const ok = mask && Number.isInteger(mask.height) && Number.isInteger(mask.width) && mask.height > 0 && mask.width > 0;
  if (!ok || !mask.data || mask.data.length !== mask.height * mask.width) {
    throw new ExplainError('invalid_option', `${what} must be { data, height, width } with height·width values and positive sizes.`);
  }
}

/**
 * PIL's `Image.resize((width, height), Image.BICUBIC)` of a float ('F') image: separable, horizontal pass first
 * (rounded to float32 in between, as PIL stores it), half-pixel centres, taps outside the image dropped and the
 * rest renormalised; the kernel widens when shrinking. Values can overshoot the input's range. Same size: a copy.
 */
export function resizeBicubicPil(mask: MaskLike, height: number, width: number): Float32Array {
  checkMask(mask, 'The mask');
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new ExplainError('invalid_option', `The output size must be positive integers; got ${height}×${width}.`);
  }
  const { height: h, width: w, data } = mask;
  if (h === height && w === width) return Float32Array.from(data);
  let horizontal = Float32Array.from(data);
  if (w !== width) {
    const cols = coefficients(w, width);
    horizontal = new Float32Array(h * width);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < width; x++) {
        const { first, weights } = cols[x];
        let sum = 0;
        for (let k = 0; k < weights.length; k++) sum += data[y * w + first + k] * weights[k];
        horizontal[y * width + x] = sum;
      }
    }
  }
  if (h === height) return horizontal;
  const out = new Float32Array(height * width);
  const ys = coefficients(h, height);
  for (let y = 0; y < height; y++) {
    const { first, weights } = ys[y];
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let k = 0; k < weights.length; k++) sum += horizontal[(first + k) * width + x] * weights[k];
      out[y * width + x] = sum;
    }
  }
  return out;
}

/**
 * torchcam's `overlay_mask(img, mask, colormap='jet', alpha)` as easy-explain calls it (mask = a normalised CAM as
 * a float image): the mask is resized to the image with PIL's bicubic filter, squared, coloured with the colour
 * map (matplotlib's lookup; values outside 0..1 take the end colours) and truncated to 8 bits, then blended:
 * trunc(alpha·image + (1 − alpha)·colour). The image is RGB, 0..255 (integer arrays, or floats; floats all ≤ 1
 * are taken as 0..1 and scaled by 255 as torchvision's to_pil_image does); it is truncated to integers first.
 * Returns RGBA pixels (alpha 255) ready for a canvas.
 */
export function overlayMask(image: HWC, mask: MaskLike, options: OverlayMaskOptions = {}): ImageDataLike {
  const alpha = options.alpha ?? 0.7;
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha < 1)) {
    throw new ExplainError('invalid_option', `alpha must be a number in [0, 1) (the image's weight); got ${String(alpha)}.`);
  }
  if (!image || image.channels !== 3 || image.data.length !== image.height * image.width * 3) {
    throw new ExplainError('invalid_option', 'The image must be RGB: { data, height, width, channels: 3 } with height·width·3 values.');
  }
  const map = colormap(options.colormap ?? 'jet');
  const { height, width } = image;
  const resized = resizeBicubicPil(mask, height, width);
  const isFloat = image.data instanceof Float32Array || image.data instanceof Float64Array;
  let unit = false;
  if (isFloat) {
    unit = true;
    for (let i = 0; i < image.data.length && unit; i++) if (image.data[i] > 1) unit = false;
  }
  const out = new Uint8ClampedArray(height * width * 4);
  for (let p = 0; p < height * width; p++) {
    const m = resized[p];
    const row = map.index(Math.fround(m * m)); // squared in float32, as numpy on PIL's float image
    for (let c = 0; c < 3; c++) {
      const colour = row < 0 ? 0 : Math.trunc(255 * map.lut[4 * row + c]);
      const v = image.data[3 * p + c];
      const pixel = Math.trunc(unit ? v * 255 : v);
      out[4 * p + c] = Math.trunc(alpha * pixel + (1 - alpha) * colour);
    }
    out[4 * p + 3] = 255;
  }
  return { width, height, data: out };
}

/**
 * A map drawn as matplotlib's imshow draws it (what easy-explain shows for raw CAMs): values min-max scaled to the
 * colour map's range, one pixel per value; a constant map takes the colour map's lowest colour. Returns RGBA pixels.
 */
export function colorizeMap(map: MaskLike, colormapName: string | Colormap = 'viridis'): ImageDataLike {
  const { data, height, width } = map;
  if (!map || data.length !== height * width || height < 1 || width < 1) {
    throw new ExplainError('invalid_option', 'The map must be { data, height, width } with height·width values.');
  }
  const cmap = colormap(colormapName);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    if (data[i] < lo) lo = data[i];
    if (data[i] > hi) hi = data[i];
  }
  const range = hi > lo ? hi - lo : 1;
  const out = new Uint8ClampedArray(height * width * 4);
  for (let i = 0; i < data.length; i++) {
    const [r, g, b] = cmap.rgba((data[i] - lo) / range);
    out.set([r * 255, g * 255, b * 255, 255], i * 4);
  }
  return { width, height, data: out };
}
