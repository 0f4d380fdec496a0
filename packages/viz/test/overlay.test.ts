// torchcam's overlay_mask (easy-explain's CAM overlay): PIL bicubic resize, jet of the squared mask, blend.
import { describe, expect, it } from 'vitest';
import { colormap, ExplainError, overlayMask, resizeBicubicPil } from '../src/index.js';

describe("PIL's bicubic resize of a float image", () => {
  it('upsampling 1×2 → 1×4 drops the taps outside the image, renormalises, and overshoots', () => {
    // Output x = 0: centre 0.25, taps at inputs 0 and 1 with weights k(0.25) = 0.8671875 and k(1.25) = −0.0703125
    // (a = −0.5), renormalised by their sum 0.796875. By symmetry x = 3 mirrors x = 0.
    const out = resizeBicubicPil({ data: [0, 1], height: 1, width: 2 }, 1, 4);
    const w1 = -0.0703125 / 0.796875;
    expect(out[0]).toBeCloseTo(w1, 7); // −0.0882: below the input's range
    expect(out[3]).toBeCloseTo(1 - w1, 7);
    // x = 1: centre 0.75, taps 0 and 1 at distances 0.25 and 0.75: k(0.75) = 0.2265625, so the value is
    // 0.2265625 / (0.8671875 + 0.2265625); x = 2 mirrors it.
    expect(out[1]).toBeCloseTo(0.2265625 / 1.09375, 7);
    expect(out[2]).toBeCloseTo(1 - 0.2265625 / 1.09375, 7);
  });

  it('a constant map stays constant at any size; the same size is a copy; vertical mirrors horizontal', () => {
    const constant = resizeBicubicPil({ data: new Float32Array(12).fill(0.3), height: 3, width: 4 }, 7, 9);
    for (const v of constant) expect(v).toBeCloseTo(0.3, 6);
    const data = Float32Array.from([0.1, 0.9, 0.4, 0.7]);
    expect(Array.from(resizeBicubicPil({ data, height: 2, width: 2 }, 2, 2))).toEqual(Array.from(data));
    const row = resizeBicubicPil({ data: [0, 1], height: 1, width: 2 }, 1, 5);
    const column = resizeBicubicPil({ data: [0, 1], height: 2, width: 1 }, 5, 1);
    expect(Array.from(column)).toEqual(Array.from(row));
  });

  it('shrinking widens the kernel (PIL antialiases): a 1-pixel stripe pattern averages out', () => {
    const stripes = Float32Array.from({ length: 16 }, (_, i) => i % 2);
    const out = resizeBicubicPil({ data: stripes, height: 1, width: 16 }, 1, 4);
    for (const v of out.slice(1, 3)) expect(Math.abs(v - 0.5)).toBeLessThan(0.05);
  });
});

describe('overlayMask (torchcam overlay_mask with jet)', () => {
  const jet = colormap('jet');

  it('blends trunc(alpha·image + (1 − alpha)·trunc(255·jet(mask²))) per channel', () => {
    // Mask 0.5 everywhere → mask² = 0.25 → jet row floor(0.25·256) = 64 = matplotlib's jet at 64/255:
    // red 0, green (64/255 − 0.125)/0.25 = 0.50392, blue 1 → 8-bit (0, 128, 255).
    expect(jet.index(0.25)).toBe(64);
    expect(Array.from(jet.lut.slice(256, 259), (v) => Math.trunc(255 * v))).toEqual([0, 128, 255]);
    const image = { data: Uint8Array.from([10, 200, 30, 255, 255, 255]), height: 1, width: 2, channels: 3 };
    const out = overlayMask(image, { data: [0.5], height: 1, width: 1 }, { alpha: 0.5 });
    expect(out.width).toBe(2);
    expect(Array.from(out.data)).toEqual([5, 164, 142, 255, 127, 191, 255, 255]);
    // torchcam's default alpha 0.7: trunc(0.7·10 + 0.3·0) = 7, trunc(0.7·200 + 0.3·128) = 178, trunc(0.7·30 + 76.5) = 97.
    expect(Array.from(overlayMask(image, { data: [0.5], height: 1, width: 1 }).data.slice(0, 3))).toEqual([7, 178, 97]);
  });

  it('the overshoot of the bicubic resize is squared into a positive value (jet row 1, not 0)', () => {
    const image = { data: new Uint8Array(12), height: 1, width: 4, channels: 3 };
    const out = overlayMask(image, { data: [0, 1], height: 1, width: 2 }, { alpha: 0.5 });
    const m = -0.0703125 / 0.796875;
    const row = jet.index(Math.fround(m * m));
    expect(row).toBe(1);
    const expected = [0, 1, 2].map((c) => Math.trunc(0.5 * Math.trunc(255 * jet.lut[4 * row + c])));
    expect(Array.from(out.data.slice(0, 3))).toEqual(expected);
    // The far end (mask 1.088 → squared 1.18) takes jet's last colour, (0.5, 0, 0) → 127 → 63.
    expect(Array.from(out.data.slice(12, 15))).toEqual([63, 0, 0]);
  });

  it('float images in 0..1 are scaled by 255 (torchvision to_pil_image), other floats used as 0..255', () => {
    const unit = { data: Float32Array.from([0.5, 1, 0]), height: 1, width: 1, channels: 3 };
    const bytes = { data: Float32Array.from([127.9, 255, 0]), height: 1, width: 1, channels: 3 };
    const mask = { data: [0], height: 1, width: 1 }; // jet(0) = (0, 0, 0.5) → (0, 0, 127)
    expect(Array.from(overlayMask(unit, mask, { alpha: 0.5 }).data)).toEqual([63, 127, 63, 255]);
    expect(Array.from(overlayMask(bytes, mask, { alpha: 0.5 }).data)).toEqual([63, 127, 63, 255]);
  });

  it('refuses alpha outside [0, 1), non-RGB images and masks whose size does not match their data', () => {
    const image = { data: new Uint8Array(3), height: 1, width: 1, channels: 3 };
    const mask = { data: [0.5], height: 1, width: 1 };
    for (const alpha of [1, -0.1, Number.NaN]) expect(() => overlayMask(image, mask, { alpha })).toThrow(ExplainError);
    expect(() => overlayMask({ ...image, channels: 1, data: new Uint8Array(1) }, mask)).toThrow(ExplainError);
    expect(() => overlayMask(image, { data: [0.5, 0.2], height: 1, width: 1 })).toThrow(ExplainError);
    expect(() => overlayMask(image, mask, { colormap: 'nope' })).toThrow(ExplainError);
  });
});
