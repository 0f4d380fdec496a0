import { colormap, type Colormap } from './colormap.js';
import { ExplainError } from './errors.js';
import { checkHWC, checkSign, normalizeAttrDetailed } from './normalize.js';
import { VIS_METHODS, type HWC, type ImageDataLike, type VisMethod, type VisSign } from './types.js';

const f32 = Math.fround;

export interface VisualizeOptions {
  /** Default `heat_map`, as in Captum. */
  method?: VisMethod;
  /** Default `absolute_value`, as in Captum. */
  sign?: VisSign;
  /** Percentage of the total attribution treated as outliers (set to 1); default 2. */
  outlierPerc?: number;
  /** Heat-map colours; default RdWhGn (sign all), Greens (positive), Reds (negative), Blues (absolute_value). */
  cmap?: string | Colormap;
  /** Opacity of the heat map over the grey image in `blended_heat_map`; default 0.5. */
  alphaOverlay?: number;
}

/** How a panel's colour bar is drawn: the heat map's colours from vmin to vmax, at the heat map's opacity. */
export interface ColorbarSpec {
  cmap: Colormap;
  vmin: number;
  vmax: number;
  alpha: number;
}

/** One panel's RGBA pixels (straight alpha) plus what was drawn. */
export interface PanelImage extends ImageDataLike {
  method: VisMethod;
  sign: VisSign;
  /** The heat map's colour scale, for `heat_map` and `blended_heat_map`; null for the other methods. */
  colorbar: ColorbarSpec | null;
  /** The sign had nothing to show (see `NormalizedAttr.blank`). */
  blank: boolean;
  warnings: string[];
}

/** The colour map and value range Captum uses for a sign. */
export function defaultColormap(sign: VisSign): { cmap: Colormap; vmin: number; vmax: number } {
  checkSign(sign);
  if (sign === 'all') return { cmap: colormap('RdWhGn'), vmin: -1, vmax: 1 };
  const name = sign === 'positive' ? 'Greens' : sign === 'negative' ? 'Reds' : 'Blues';
  return { cmap: colormap(name), vmin: 0, vmax: 1 };
}

/**
 * An image made ready the way Captum does: float images whose maximum is ≤ 1 become `clip(trunc(x·255), 0, 255)`;
 * 8-bit arrays are taken as 0..255; float images above 1 are taken as 0..255 (their values are kept for the
 * arithmetic of masked_image and the grey of blended_heat_map, and truncated to 8 bits for display).
 */
interface PreparedImage {
  /** H·W·3 values (0..255) used for arithmetic. */
  values: Float64Array;
  /** H·W·3 bytes for display. */
  rgb: Uint8ClampedArray;
  /** The arithmetic is float32 (a float32 image already in 0..255), as numpy would do it. */
  float32: boolean;
}

function prepareImage(image: HWC, height: number, width: number): PreparedImage {
  checkHWC('The image', image);
  if (image.height !== height || image.width !== width) {
    throw new ExplainError(
      'invalid_option',
      `The image is ${image.height}×${image.width} but the attribution is ${height}×${width}: pass the image the attribution was computed for.`,
    );
  }
  const c = image.channels;
  if (c !== 1 && c !== 3 && c !== 4) {
    throw new ExplainError('invalid_option', `The image must have 1 (grey), 3 (RGB) or 4 (RGBA) channels, not ${c}.`);
  }
  const { data } = image;
  const n = height * width;
  const is8bit = data instanceof Uint8Array || data instanceof Uint8ClampedArray;
  let max = -Infinity;
  if (!is8bit) for (let i = 0; i < data.length; i++) if (data[i] > max) max = data[i];
  const unit = !is8bit && max <= 1;
  const isF32 = data instanceof Float32Array;
  const values = new Float64Array(3 * n);
  const rgb = new Uint8ClampedArray(3 * n);
  for (let p = 0; p < n; p++) {
    for (let k = 0; k < 3; k++) {
      const x = data[p * c + (c === 1 ? 0 : k)];
      let v: number;
      if (unit) {
        v = Math.trunc(isF32 ? f32(x * 255) : x * 255);
        v = v < 0 ? 0 : v > 255 ? 255 : v;
      } else {
        v = x;
      }
      values[3 * p + k] = v;
      rgb[3 * p + k] = is8bit || unit ? v : Math.min(255, Math.max(0, Math.trunc(v)));
    }
  }
  return { values, rgb, float32: isF32 && !unit };
}

const toByte = (v: number) => Math.round(v * 255);

/**
 * Draw an already normalised H×W map (what `normalizeAttr` returns) as Captum's `visualize_image_attr` would:
 * the same pixels, composited into one RGBA image. Use this to re-draw one normalisation in several ways.
 */
export function visualizeNormalizedAttr(
  norm: Float32Array,
  height: number,
  width: number,
  image: HWC | undefined,
  options: Omit<VisualizeOptions, 'outlierPerc'> = {},
): PanelImage {
  const method = options.method ?? 'heat_map';
  const sign = options.sign ?? 'absolute_value';
  if (!(VIS_METHODS as readonly string[]).includes(method)) {
    throw new ExplainError('invalid_option', `Unknown method ${JSON.stringify(method)}: use one of ${VIS_METHODS.join(', ')}.`);
  }
  checkSign(sign);
  if (norm.length !== height * width) {
    throw new ExplainError('invalid_option', `The normalised map has ${norm.length} values, not height·width = ${height * width}.`);
  }
  if ((method === 'masked_image' || method === 'alpha_scaling') && sign === 'all') {
    throw new ExplainError(
      'invalid_sign',
      `${method} cannot show positive and negative attributions together: use sign 'positive', 'negative' or 'absolute_value', ` +
        `or method 'heat_map' / 'blended_heat_map' for sign 'all'.`,
    );
  }
  if (method !== 'heat_map' && image === undefined) {
    throw new ExplainError('invalid_option', `Method ${method} draws on the original image: pass the image (HWC, 0..1 or 0..255).`);
  }
  const alphaOverlay = options.alphaOverlay ?? 0.5;
  if (!(alphaOverlay >= 0 && alphaOverlay <= 1)) {
    throw new ExplainError('invalid_option', `alphaOverlay must be between 0 and 1 (got ${alphaOverlay}); the default is 0.5.`);
  }
  const n = height * width;
  const out = new Uint8ClampedArray(4 * n);
  const img = image === undefined ? undefined : prepareImage(image, height, width);
  const base = defaultColormap(sign);
  const cmap = options.cmap === undefined ? base.cmap : colormap(options.cmap);
  const { vmin, vmax } = base;
  let colorbar: ColorbarSpec | null = null;

  // The heat map's colour of pixel p: matplotlib's Normalize(vmin, vmax) in float32, then the table.
  const range = f32(vmax - vmin);
  const heat = (p: number) => cmap.rgba(f32(f32(norm[p] - vmin) / range));

  if (method === 'heat_map') {
    colorbar = { cmap, vmin, vmax, alpha: 1 };
    for (let p = 0; p < n; p++) {
      const [r, g, b, a] = heat(p);
      out.set([toByte(r), toByte(g), toByte(b), toByte(a)], 4 * p);
    }
  } else if (method === 'blended_heat_map') {
    const { values } = img!;
    // Grey layer: channel mean, auto-scaled to its own min..max through 'gray'.
    const grey = new Float64Array(n);
    let lo = Infinity;
    let hi = -Infinity;
    for (let p = 0; p < n; p++) {
      const m = (values[3 * p] + values[3 * p + 1] + values[3 * p + 2]) / 3;
      grey[p] = m;
      if (m < lo) lo = m;
      if (m > hi) hi = m;
    }
    const greyMap = colormap('gray');
    colorbar = { cmap, vmin, vmax, alpha: alphaOverlay };
    for (let p = 0; p < n; p++) {
      const under = greyMap.rgba(hi > lo ? (grey[p] - lo) / (hi - lo) : 0);
      const over = heat(p);
      // Source-over of the translucent heat map on the opaque grey layer.
      const a = over[3] * alphaOverlay;
      const ua = under[3] * (1 - a);
      const oa = a + ua;
      for (let k = 0; k < 3; k++) out[4 * p + k] = oa > 0 ? toByte((over[k] * a + under[k] * ua) / oa) : 0;
      out[4 * p + 3] = toByte(oa);
    }
  } else if (method === 'original_image') {
    const { rgb } = img!;
    for (let p = 0; p < n; p++) out.set([rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2], 255], 4 * p);
  } else if (method === 'masked_image') {
    const { values, float32 } = img!;
    for (let p = 0; p < n; p++) {
      for (let k = 0; k < 3; k++) {
        const prod = float32 ? f32(values[3 * p + k] * norm[p]) : values[3 * p + k] * norm[p];
        out[4 * p + k] = Math.min(255, Math.max(0, Math.trunc(prod)));
      }
      out[4 * p + 3] = 255;
    }
  } else {
    const { rgb } = img!;
    for (let p = 0; p < n; p++) {
      out.set([rgb[3 * p], rgb[3 * p + 1], rgb[3 * p + 2]], 4 * p);
      out[4 * p + 3] = Math.min(255, Math.max(0, Math.trunc(f32(norm[p] * 255))));
    }
  }
  return { width, height, data: out, method, sign, colorbar, blank: false, warnings: [] };
}

/**
 * One panel as Captum's `visualize_image_attr` draws it, as RGBA pixels (straight alpha; only alpha_scaling is
 * translucent: draw it on white as Captum's figure does, see `compositeOver`).
 * `attr` is H×W×C; `image` is H×W×(1|3|4) in 0..1 or 0..255, needed by every method except heat_map.
 * Refuses masked_image and alpha_scaling with sign `all` (ExplainError `invalid_sign`).
 */
export function visualizeImageAttr(attr: HWC, image: HWC | undefined, options: VisualizeOptions = {}): PanelImage {
  checkHWC('The attribution', attr);
  const method = options.method ?? 'heat_map';
  const sign = options.sign ?? 'absolute_value';
  if (method === 'original_image') {
    // Captum normalises here too, but nothing of it is drawn: skip it (and its blank-case assertion).
    return visualizeNormalizedAttr(new Float32Array(attr.height * attr.width), attr.height, attr.width, image, options);
  }
  checkSign(sign);
  const norm = normalizeAttrDetailed(attr, sign, options.outlierPerc ?? 2);
  const panel = visualizeNormalizedAttr(norm.values, attr.height, attr.width, image, options);
  return { ...panel, blank: norm.blank, warnings: norm.warnings };
}

/** Flatten straight-alpha RGBA onto an opaque background colour (default white, as a figure's background). */
export function compositeOver(image: ImageDataLike, background: readonly [number, number, number] = [255, 255, 255]): ImageDataLike {
  const { width, height, data } = image;
  const out = new Uint8ClampedArray(data.length);
  for (let i = 0; i < data.length; i += 4) {
    const a = data[i + 3] / 255;
    for (let k = 0; k < 3; k++) out[i + k] = Math.round(data[i + k] * a + background[k] * (1 - a));
    out[i + 3] = 255;
  }
  return { width, height, data: out };
}

/** Nearest-neighbour resize (pixel blocks stay crisp): target pixel x takes source pixel floor((x + ½)·w/W). */
export function scaleNearest(image: ImageDataLike, width: number, height: number): ImageDataLike {
  const { width: sw, height: sh, data } = image;
  const out = new Uint8ClampedArray(4 * width * height);
  const xs = Array.from({ length: width }, (_, x) => Math.min(sw - 1, Math.floor(((x + 0.5) * sw) / width)));
  for (let y = 0; y < height; y++) {
    const sy = Math.min(sh - 1, Math.floor(((y + 0.5) * sh) / height));
    for (let x = 0; x < width; x++) {
      const s = 4 * (sy * sw + xs[x]);
      out.set(data.subarray(s, s + 4), 4 * (y * width + x));
    }
  }
  return { width, height, data: out };
}
