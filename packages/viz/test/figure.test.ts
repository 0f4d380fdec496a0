import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCanvas, GlobalFonts, loadImage } from '@napi-rs/canvas';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  colormap,
  compositeOver,
  drawFigure,
  easyExplainTitle,
  easyExplainTitles,
  figureLayout,
  figureSize,
  formatTick,
  makePanels,
  predictionName,
  renderFigure,
  scaleNearest,
  type Canvas2DLike,
  type PanelRequest,
} from '../src/index.js';
import { attributionCases, hwc, reference, report } from './helpers.js';

// The figure's font comes from an npm package, never from the system.
const FONT = 'EEDejaVuSans';
beforeAll(() => {
  const file = createRequire(import.meta.url).resolve('@fontsource/dejavu-sans/files/dejavu-sans-latin-400-normal.woff2');
  GlobalFonts.registerFromPath(file, FONT);
  expect(GlobalFonts.has(FONT)).toBe(true);
});

// Type-level: every Canvas-2D context the library targets fits Canvas2DLike.
export function contextsFit(
  browser: CanvasRenderingContext2D,
  offscreen: OffscreenCanvasRenderingContext2D,
): Canvas2DLike[] {
  return [browser, offscreen, createCanvas(1, 1).getContext('2d')];
}

describe('titles (easy-explain)', () => {
  it('formats titles as easy-explain does', () => {
    expect(predictionName('Egyptian_cat')).toBe('Egyptian cat');
    expect(predictionName('tabby')).toBe('Tabby');
    expect(easyExplainTitle('blended_heat_map', 'all', 'Egyptian cat')).toBe('Blended heat map for Egyptian cat');
    expect(easyExplainTitle('blended_heat_map', 'positive', 'Egyptian cat')).toBe('Positive Blended heat map for Egyptian cat');
    expect(easyExplainTitle('heat_map', 'absolute_value', 'Egyptian cat')).toBe('Absolute value Heat map for Egyptian cat');
    expect(easyExplainTitles(['masked_image', 'original_image'], ['negative', 'all'], 'Tabby')).toEqual([
      'Negative Masked image for Tabby',
      'Original image for Tabby',
    ]);
    expect(formatTick(-1)).toBe('\u22121.0');
    expect(formatTick(0)).toBe('0.0');
    expect(formatTick(0.5)).toBe('0.5');
  });
});

describe('drawFigure with @napi-rs/canvas', () => {
  const image = hwc(reference('inputs.json').inputs.find((i: any) => i.name === 'rand0').image);
  const attr = hwc(attributionCases().get('Occlusion/w3x8x8_s3x4x4_b0/rand0/top')!.attribution);
  const requests: PanelRequest[] = [
    { method: 'blended_heat_map', sign: 'all' },
    { method: 'original_image', sign: 'all' },
    { method: 'heat_map', sign: 'positive' },
    { method: 'alpha_scaling', sign: 'positive' },
    { method: 'masked_image', sign: 'negative' }, // this target has no negative attributions: a blank panel
  ];

  it('renders a PNG whose size follows the layout and whose panels are visualizeImageAttr’s pixels', async () => {
    const warnings: string[] = [];
    const panels = makePanels(attr, image, requests, { label: 'Egyptian cat', onWarning: (w) => warnings.push(w) });
    expect(panels.map((p) => p.title)).toEqual([
      'Blended heat map for Egyptian cat',
      'Original image for Egyptian cat',
      'Positive Heat map for Egyptian cat',
      'Positive Alpha scaling for Egyptian cat',
      'Negative Masked image for Egyptian cat',
    ]);
    expect(panels[4].blank).toBe(true);
    expect(warnings).toHaveLength(1);

    const layout = { fontFamily: FONT };
    const canvas = renderFigure((w, h) => createCanvas(w, h), panels, layout);
    const png = canvas.toBuffer('image/png');
    const dir = join(tmpdir(), 'easy-explain-viz');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'figure.png'), png);
    report('figure written to', join(dir, 'figure.png'));

    // Decode the PNG again.
    const decoded = await loadImage(png);
    const { width, height } = figureSize(panels, layout);
    expect([decoded.width, decoded.height]).toEqual([width, height]);
    const back = createCanvas(width, height).getContext('2d');
    back.drawImage(decoded, 0, 0);
    const px = back.getImageData(0, 0, width, height).data;
    const at = (x: number, y: number) => Array.from(px.slice(4 * (y * width + x), 4 * (y * width + x) + 4));

    // The layout, recomputed by hand: 32 px panels magnified 7× (≥ 200 px), columns as wide as the panel or the
    // estimated title, 16 px margins, 24 px gaps, title band, and the colour-bar band (pad, 5 % bar, ticks, labels).
    const geo = figureLayout(panels, layout);
    expect(geo.scale).toBe(7);
    const cols = panels.map((p) => Math.max(224, Math.ceil(p.title!.length * 0.56 * 14)));
    expect(width).toBe(16 * 2 + cols.reduce((a, b) => a + b) + 24 * (panels.length - 1));
    const titleBand = Math.ceil(14 * 1.3) + 6;
    const bar = { pad: Math.round(0.04 * 224), h: Math.round(0.05 * 224) };
    expect(height).toBe(16 + titleBand + 224 + bar.pad + bar.h + 4 + 2 + Math.ceil(11 * 1.3) + 16);

    // Every panel pixel is the panel's own pixel (alpha composited on white), magnified by whole blocks.
    let mismatches = 0;
    panels.forEach((panel, i) => {
      const box = geo.panels[i].image;
      expect([box.width, box.height]).toEqual([224, 224]);
      const expected = scaleNearest(compositeOver(panel.image), 224, 224).data;
      for (let y = 0; y < 224; y++) {
        for (let x = 0; x < 224; x++) {
          const got = at(box.x + x, box.y + y);
          const e = 4 * (y * 224 + x);
          if (got.some((v, k) => v !== expected[e + k])) mismatches++;
        }
      }
      // Block structure: the 7×7 block of source pixel (3, 5) is one colour.
      expect(at(box.x + 3 * 7, box.y + 5 * 7)).toEqual(at(box.x + 3 * 7 + 6, box.y + 5 * 7 + 6));
    });
    report('figure panel pixels differing from visualizeImageAttr', mismatches);
    expect(mismatches).toBe(0);

    // White background and empty margins.
    for (let x = 0; x < width; x++) {
      expect(at(x, 0)).toEqual([255, 255, 255, 255]);
      expect(at(x, height - 1)).toEqual([255, 255, 255, 255]);
    }
    for (let y = 0; y < height; y++) {
      expect(at(0, y)).toEqual([255, 255, 255, 255]);
      expect(at(width - 1, y)).toEqual([255, 255, 255, 255]);
    }

    // Titles: dark, anti-aliased text (grey levels between black and white) inside the title band of each column.
    for (const box of geo.panels) {
      const levels = new Set<number>();
      for (let y = 16; y < 16 + titleBand; y++) {
        for (let x = box.image.x; x < box.image.x + box.image.width; x++) levels.add(at(x, y)[0]);
      }
      expect(Math.min(...levels)).toBeLessThan(60);
      expect([...levels].filter((v) => v > 40 && v < 215).length).toBeGreaterThan(5);
    }

    // Colour bars: the heat-map panels have one (RdWhGn at alpha 0.5, Greens), the others leave the band empty.
    const cb = (i: number) => geo.panels[i].colorbar!;
    const mid = (i: number) => cb(i).y + Math.floor(cb(i).height / 2);
    expect(cb(0).height).toBe(bar.h);
    const rdwhgn = colormap('RdWhGn');
    const [r0, g0, b0] = rdwhgn.rgba(0.5 / 224);
    expect(at(cb(0).x, mid(0))).toEqual([
      Math.round((r0 * 0.5 + 0.5) * 255),
      Math.round((g0 * 0.5 + 0.5) * 255),
      Math.round((b0 * 0.5 + 0.5) * 255),
      255,
    ]);
    const greens = colormap('Greens');
    const last = greens.rgba(223.5 / 224).slice(0, 3).map((v) => Math.round(v * 255));
    expect(at(cb(2).x + 223, mid(2))).toEqual([...last, 255]);
    for (const i of [1, 3, 4]) {
      for (let x = cb(i).x; x < cb(i).x + cb(i).width; x++) expect(at(x, mid(i))).toEqual([255, 255, 255, 255]);
    }
    // Tick labels under the bars.
    let dark = 0;
    for (let y = cb(0).y + cb(0).height + 6; y < height - 16; y++) {
      for (let x = cb(0).x - 10; x < cb(0).x + 234; x++) if (at(x, y)[0] < 128) dark++;
    }
    expect(dark).toBeGreaterThan(20);
  });

  it('draws on a context at an offset-free origin and returns the geometry; no colour bars when asked', () => {
    const panels = makePanels(attr, image, requests.slice(0, 2), { colorbar: false });
    const { width, height } = figureSize(panels, { scale: 3, margin: 10, fontFamily: FONT });
    expect(height).toBe(10 + 0 + 96 + 10); // no titles, no colour bars
    expect(width).toBe(10 + 96 + 24 + 96 + 10);
    const canvas = createCanvas(width, height);
    const geo = drawFigure(canvas.getContext('2d'), panels, { scale: 3, margin: 10, fontFamily: FONT });
    expect(geo.panels.every((p) => p.colorbar === null)).toBe(true);
    expect(geo.panels[1].image).toEqual({ x: 130, y: 10, width: 96, height: 96 });
  });
});
