// drawMetricCurve on @napi-rs/canvas: the area under a deletion curve is shaded exactly where the curve lies above,
// the curve, axes and title are drawn, and bad curves are refused.
import { createRequire } from 'node:module';
import { createCanvas, GlobalFonts } from '@napi-rs/canvas';
import { beforeAll, describe, expect, it } from 'vitest';
import { drawMetricCurve, ExplainError, type CurveContext2D } from '../src/index.js';
import { report } from './helpers.js';

const FONT = 'EEDejaVuSans';
beforeAll(() => {
  const file = createRequire(import.meta.url).resolve('@fontsource/dejavu-sans/files/dejavu-sans-latin-400-normal.woff2');
  GlobalFonts.registerFromPath(file, FONT);
});

// Type-level: browser contexts fit CurveContext2D.
export function contextsFit(browser: CanvasRenderingContext2D, offscreen: OffscreenCanvasRenderingContext2D): CurveContext2D[] {
  return [browser, offscreen, createCanvas(1, 1).getContext('2d')];
}

// A deletion curve at 0.8 until half the pixels are gone, falling to 0 at 0.75 and staying there.
const curve = { metric: 'deletion', x: [0, 0.25, 0.5, 0.75, 1], y: [0.8, 0.8, 0.8, 0, 0], auc: 0.5 };
const WHITE = [255, 255, 255, 255];
// #1f77b4 at opacity 0.4 over white: 255 · 0.6 + c · 0.4.
const SHADE = [0x1f, 0x77, 0xb4].map((c) => Math.round(255 * 0.6 + c * 0.4));

describe('drawMetricCurve', () => {
  it('shades the area under the curve in the expected columns, draws the curve, axes and the AUC title', () => {
    const canvas = createCanvas(400, 300);
    const ctx = canvas.getContext('2d');
    const geo = drawMetricCurve(ctx, curve, { width: 400, height: 300, fontFamily: FONT });
    expect(geo.title).toBe('Deletion (AUC = 0.500)');
    expect(geo.yMax).toBe(1.05);
    const pixels = ctx.getImageData(0, 0, 400, 300).data;
    const at = (x: number, y: number) => Array.from(pixels.slice(4 * (Math.round(y) * 400 + Math.round(x)), 4 * (Math.round(y) * 400 + Math.round(x)) + 4));
    const near = (got: number[], want: number[]) => got.slice(0, 3).every((v, k) => Math.abs(v - want[k]) <= 1);

    // Sample a grid of points well inside (2 px from any edge of) the plot.
    let shadedUnder = 0;
    let whiteAbove = 0;
    let checked = 0;
    for (let i = 1; i < 40; i++) {
      const fx = i / 40;
      const height = fx <= 0.5 ? 0.8 : fx >= 0.75 ? 0 : 0.8 * (0.75 - fx) / 0.25;
      for (let j = 1; j < 20; j++) {
        const fy = (j / 20) * 1.05;
        const [cx, cy] = geo.toCanvas(fx, fy);
        const [, curveY] = geo.toCanvas(fx, height);
        if (Math.abs(cy - curveY) < 4 || cy > geo.plot.y + geo.plot.height - 3 || cy < geo.plot.y + 2) continue;
        checked++;
        const colour = at(cx, cy);
        if (fy < height) {
          expect(near(colour, SHADE), `(${fx}, ${fy.toFixed(2)}) under the curve is ${colour}`).toBe(true);
          shadedUnder++;
        } else {
          expect(colour, `(${fx}, ${fy.toFixed(2)}) above the curve`).toEqual(WHITE);
          whiteAbove++;
        }
      }
    }
    report('metric curve: grid points shaded under / white above', `${shadedUnder} / ${whiteAbove} of ${checked}`);
    expect(shadedUnder).toBeGreaterThan(100);
    expect(whiteAbove).toBeGreaterThan(200);

    // Columns x ∈ (0.75, 1]: nothing to shade, white down to the axis.
    const [x1] = geo.toCanvas(0.9, 0);
    for (let y = geo.plot.y + 1; y < geo.plot.y + geo.plot.height - 3; y++) expect(at(x1, y)).toEqual(WHITE);
    // The curve itself: the line colour at (0.25, 0.8).
    const [lx, ly] = geo.toCanvas(0.25, 0.8);
    expect(near(at(lx, ly), [0x1f, 0x77, 0xb4])).toBe(true);
    // Axes: black frame lines just outside the plot.
    expect(at(geo.plot.x - 1, geo.plot.y + 50)).toEqual([0, 0, 0, 255]);
    expect(at(geo.plot.x + 50, geo.plot.y + geo.plot.height)).toEqual([0, 0, 0, 255]);
    // Title: dark anti-aliased text in the band above the plot.
    let dark = 0;
    for (let y = 0; y < geo.plot.y - 2; y++) for (let x = 0; x < 400; x++) if (at(x, y)[0] < 128) dark++;
    expect(dark).toBeGreaterThan(100);
  });

  it('draws at an offset and size, with a y axis grown for scores above 1', () => {
    const ctx = createCanvas(300, 200).getContext('2d');
    ctx.fillStyle = '#ff0000';
    ctx.fillRect(0, 0, 300, 200);
    const geo = drawMetricCurve(ctx, { x: [0, 1], y: [2, 0], metric: 'insertion' }, { left: 100, top: 50, width: 200, height: 150 });
    expect(geo.yMax).toBeCloseTo(2.1, 12);
    expect(geo.title).toBe('Insertion');
    expect(geo.plot.x).toBeGreaterThan(100);
    expect(geo.plot.x + geo.plot.width).toBeLessThanOrEqual(300);
    // Outside the figure's rectangle the canvas is untouched.
    expect(Array.from(ctx.getImageData(50, 100, 1, 1).data)).toEqual([255, 0, 0, 255]);
  });

  it('refuses curves it cannot draw', () => {
    const ctx = createCanvas(10, 10).getContext('2d');
    for (const bad of [{ x: [0], y: [1] }, { x: [0, 1], y: [1] }, { x: [0, 1], y: [1, NaN] }, { x: [1, 0], y: [1, 1] }]) {
      expect(() => drawMetricCurve(ctx, bad)).toThrow(ExplainError);
    }
    expect(() => drawMetricCurve(ctx, curve, { fillAlpha: 2 })).toThrow(/fillAlpha/);
  });
});
