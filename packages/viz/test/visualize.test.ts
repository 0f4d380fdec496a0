import { describe, expect, it } from 'vitest';
import {
  compositeOver,
  ExplainError,
  normalizeAttrDetailed,
  scaleNearest,
  visualizeImageAttr,
  visualizeNormalizedAttr,
  type HWC,
  type ImageDataLike,
  type VisMethod,
  type VisSign,
} from '../src/index.js';
import { flat, maxAbsDiff, reference, report } from './helpers.js';

const images = reference('visualization.json').images as any[];
const find = (scale: string, method: string, sign: string) =>
  images.find((e) => e.image_scale === scale && e.method === method && e.sign === sign);
const H = 32;
const W = 32;

/** Composite the reference layers, bottom to top, with straight-alpha source-over: RGBA in 0..1. */
function compositeLayers(layers: any[]): Float64Array {
  const out = new Float64Array(4 * H * W);
  for (const layer of layers) {
    let px: number[];
    let channels: number;
    if (layer.rgba) {
      px = flat(layer.rgba);
      channels = 4;
    } else {
      channels = layer.imshow_data_shape[2];
      const scale = layer.dtype === 'uint8' ? 255 : 1; // matplotlib shows float RGB(A) clipped to 0..1
      px = flat(layer.imshow_data).map((v) => Math.min(1, Math.max(0, v / scale)));
    }
    const alpha = layer.alpha ?? 1;
    for (let p = 0; p < H * W; p++) {
      const s = px.slice(p * channels, p * channels + channels);
      const a = (channels === 4 ? s[3] : 1) * alpha;
      const da = out[4 * p + 3] * (1 - a);
      const oa = a + da;
      for (let k = 0; k < 3; k++) out[4 * p + k] = oa > 0 ? (s[k] * a + out[4 * p + k] * da) / oa : 0;
      out[4 * p + 3] = oa;
    }
  }
  return out;
}

/**
 * Largest difference in 0..1 units between our RGBA bytes and a reference RGBA, compared premultiplied (colour ×
 * alpha, and alpha): the colour of a fully transparent pixel is not seen and carries no meaning.
 */
const rgbaError = (ours: ImageDataLike, expected: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < ours.data.length; i += 4) {
    const a = ours.data[i + 3] / 255;
    const b = expected[i + 3];
    m = Math.max(m, Math.abs(a - b));
    for (let k = 0; k < 3; k++) m = Math.max(m, Math.abs((ours.data[i + k] / 255) * a - expected[i + k] * b));
  }
  return m;
};

// The 'shapes' image as Captum saw it after its uint8 conversion: the RGB of the 0..1 alpha_scaling layer.
const rgba0 = flat(find('0_1', 'alpha_scaling', 'positive').layers[0].imshow_data);
const u8 = new Uint8Array(H * W * 3);
for (let p = 0; p < H * W; p++) for (let k = 0; k < 3; k++) u8[3 * p + k] = rgba0[4 * p + k];
// As 0..1 floats that truncate back to the same bytes, and as float 0..255.
const image01: HWC = { data: Float32Array.from(u8, (v) => (v === 255 ? 1 : (v + 0.5) / 255)), height: H, width: W, channels: 3 };
const image255: HWC = { data: Float32Array.from(u8), height: H, width: W, channels: 3 };

// Captum's normalised map per sign: the heat-map layer's data.
const norm = (sign: string) => Float32Array.from(flat(find('0_1', 'heat_map', sign).layers[0].imshow_data));

describe('visualizeNormalizedAttr: every images entry of visualization.json', () => {
  let worst = 0;
  const byGroup: Record<string, number> = {};
  for (const entry of images) {
    const name = `${entry.method}/${entry.sign}/${entry.image_scale}`;
    it(name, () => {
      const image = entry.image_scale === '0_1' ? image01 : image255;
      const ours = visualizeNormalizedAttr(norm(entry.sign), H, W, image, { method: entry.method, sign: entry.sign });
      expect(ours.width).toBe(W);
      expect(ours.height).toBe(H);
      if (entry.image_scale === '0_255' && entry.method === 'alpha_scaling') {
        // Captum passes the float 0..255 image on unconverted and matplotlib clips it to 0..1: a white picture.
        const captum = compositeLayers(entry.layers);
        expect(rgbaError(ours, captum)).toBeGreaterThan(0.5);
        // We draw it as the 0..1 image is drawn.
        const err = rgbaError(ours, compositeLayers(find('0_1', 'alpha_scaling', entry.sign).layers));
        worst = Math.max(worst, err);
        expect(err).toBe(0);
        return;
      }
      const err = rgbaError(ours, compositeLayers(entry.layers));
      worst = Math.max(worst, err);
      byGroup[`${entry.method}/${entry.image_scale}`] = Math.max(byGroup[`${entry.method}/${entry.image_scale}`] ?? 0, err * 255);
      expect(err).toBeLessThanOrEqual(1 / 255 + 1e-9);
    });
  }
  it('reports', () => {
    report('images max RGBA |Δ| vs Captum/matplotlib (×255)', (worst * 255).toFixed(4));
    for (const [k, v] of Object.entries(byGroup)) report(`  ${k} (×255)`, v.toFixed(4));
  });
});

describe('visualizeImageAttr end to end', () => {
  // An attribution whose normalisation is Captum's map itself: the map (negated for 'negative'), with no outliers
  // removed, has threshold 1.
  const attrFor = (sign: string): HWC => {
    const m = norm(sign);
    return { data: sign === 'negative' ? m.map((v) => -v) : m, height: H, width: W, channels: 1 };
  };

  let worst = 0;
  for (const entry of images.filter((e) => !(e.image_scale === '0_255' && e.method === 'alpha_scaling'))) {
    it(`${entry.method}/${entry.sign}/${entry.image_scale}`, () => {
      const attr = attrFor(entry.sign);
      const n = normalizeAttrDetailed(attr, entry.sign, 0);
      expect(n.threshold).toBe(entry.sign === 'negative' ? -1 : 1);
      expect(maxAbsDiff(n.values, norm(entry.sign))).toBe(0);
      const image = entry.image_scale === '0_1' ? image01 : image255;
      const ours = visualizeImageAttr(attr, image, { method: entry.method, sign: entry.sign, outlierPerc: 0 });
      expect(ours.blank).toBe(false);
      const err = rgbaError(ours, compositeLayers(entry.layers));
      worst = Math.max(worst, err);
      expect(err).toBeLessThanOrEqual(1 / 255 + 1e-9);
    });
  }
  it('reports', () => report('visualizeImageAttr end-to-end max RGBA |Δ| (×255)', (worst * 255).toFixed(4)));

  it('draws original_image as the uint8 image, from 0..1, 0..255 float and 8-bit input alike', () => {
    for (const image of [image01, image255, { ...image01, data: u8 }]) {
      const ours = visualizeImageAttr(attrFor('all'), image, { method: 'original_image', sign: 'all' });
      for (let p = 0; p < H * W; p++) {
        expect([...ours.data.slice(4 * p, 4 * p + 4)]).toEqual([u8[3 * p], u8[3 * p + 1], u8[3 * p + 2], 255]);
      }
    }
  });

  it('returns the colour bar of heat-map methods only', () => {
    const a = visualizeImageAttr(attrFor('all'), image01, { method: 'blended_heat_map', sign: 'all' });
    expect(a.colorbar).toMatchObject({ vmin: -1, vmax: 1, alpha: 0.5 });
    expect(a.colorbar!.cmap.name).toBe('RdWhGn');
    const b = visualizeImageAttr(attrFor('positive'), undefined, { method: 'heat_map', sign: 'positive', cmap: 'viridis' });
    expect(b.colorbar).toMatchObject({ vmin: 0, vmax: 1, alpha: 1 });
    expect(b.colorbar!.cmap.name).toBe('viridis');
    expect(visualizeImageAttr(attrFor('positive'), image01, { method: 'masked_image', sign: 'positive' }).colorbar).toBeNull();
  });

  it('gives a blank panel (not a crash) when the sign has nothing to show', () => {
    const positiveOnly: HWC = { data: Float32Array.from({ length: 16 }, (_, i) => i + 1), height: 4, width: 4, channels: 1 };
    const panel = visualizeImageAttr(positiveOnly, undefined, { method: 'heat_map', sign: 'negative' });
    expect(panel.blank).toBe(true);
    expect(panel.warnings[0]).toMatch(/No negative attributions/);
    // Every pixel is the first colour of Reds.
    for (let p = 0; p < 16; p++) expect([...panel.data.slice(4 * p, 4 * p + 4)]).toEqual([255, 245, 240, 255]);
  });
});

describe('refusals', () => {
  const attr: HWC = { data: Float32Array.from({ length: 48 }, (_, i) => i - 20), height: 4, width: 4, channels: 3 };
  const image: HWC = { data: new Float32Array(48).fill(0.5), height: 4, width: 4, channels: 3 };
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ExplainError);
      expect((e as Error).message.length).toBeGreaterThan(20);
      return (e as ExplainError).code;
    }
    return 'no error';
  };

  it('refuses masked_image and alpha_scaling with sign all (invalid_sign), as Captum does', () => {
    for (const method of ['masked_image', 'alpha_scaling'] as VisMethod[]) {
      expect(code(() => visualizeImageAttr(attr, image, { method, sign: 'all' }))).toBe('invalid_sign');
      expect(code(() => visualizeNormalizedAttr(new Float32Array(16), 4, 4, image, { method, sign: 'all' }))).toBe('invalid_sign');
      for (const sign of ['positive', 'negative', 'absolute_value'] as VisSign[]) {
        expect(code(() => visualizeImageAttr(attr, image, { method, sign }))).toBe('no error');
      }
    }
  });

  it('refuses other bad options with invalid_option', () => {
    expect(code(() => visualizeImageAttr(attr, image, { method: 'sparkles' as VisMethod, sign: 'all' }))).toBe('invalid_option');
    expect(code(() => visualizeImageAttr(attr, image, { method: 'heat_map', sign: 'both' as VisSign }))).toBe('invalid_option');
    expect(code(() => visualizeImageAttr(attr, image, { method: 'heat_map', sign: 'all', cmap: 'nope' }))).toBe('invalid_option');
    expect(code(() => visualizeImageAttr(attr, { ...image, height: 2, width: 8 }, { method: 'blended_heat_map', sign: 'all' }))).toBe('invalid_option');
    expect(code(() => visualizeImageAttr({ ...attr, channels: 2 }, image, { method: 'heat_map', sign: 'all' }))).toBe('invalid_option');
    expect(code(() => visualizeImageAttr(attr, undefined, { method: 'blended_heat_map', sign: 'all' }))).toBe('invalid_option');
    expect(code(() => visualizeImageAttr(attr, image, { method: 'blended_heat_map', sign: 'all', alphaOverlay: 2 }))).toBe('invalid_option');
    expect(code(() => visualizeImageAttr(attr, undefined, { method: 'heat_map', sign: 'all' }))).toBe('no error');
  });
});

describe('pixel helpers', () => {
  it('composites straight alpha over white and scales by whole pixel blocks', () => {
    const img = { width: 2, height: 1, data: Uint8ClampedArray.of(0, 0, 0, 0, 100, 50, 0, 255) };
    expect([...compositeOver(img).data]).toEqual([255, 255, 255, 255, 100, 50, 0, 255]);
    const big = scaleNearest(img, 6, 3);
    expect(big.width).toBe(6);
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 6; x++) expect(big.data[4 * (y * 6 + x) + 3]).toBe(x < 3 ? 0 : 255);
    }
  });
});
