import { describe, expect, it } from 'vitest';
import { colormap, colormapFromList, colormapNames, ExplainError, listedColormap, parseColor } from '../src/index.js';
import { maxAbsDiff, reference, report } from './helpers.js';

const meta = reference('visualization.json').meta;

describe('colour maps', () => {
  for (const name of ['RdWhGn', 'Greens', 'Reds', 'Blues', 'gray']) {
    it(`${name} equals matplotlib's 256-entry table`, () => {
      const ref = meta.colormaps[name];
      const map = colormap(name);
      expect(map.N).toBe(ref.N);
      const err = maxAbsDiff(map.lut, (ref.lut_rgba as number[][]).flat());
      report(`colormap ${name} max |Δ| vs matplotlib`, err);
      // The reference stores about ten significant digits.
      expect(err).toBeLessThan(1e-9);
    });
  }

  it('looks values up as matplotlib does: floor(x·N), 1 → last, under → first, over → last, NaN → transparent', () => {
    const map = colormap('Greens');
    expect(map.index(0)).toBe(0);
    expect(map.index(0.5)).toBe(128);
    expect(map.index(0.49999)).toBe(127);
    expect(map.index(1)).toBe(255);
    expect(map.index(-0.3)).toBe(0);
    expect(map.index(7)).toBe(255);
    expect(map.index(Number.NaN)).toBe(-1);
    expect(map.rgba(Number.NaN)).toEqual([0, 0, 0, 0]);
    expect(map.rgba(1)).toEqual(Array.from(map.lut.slice(255 * 4, 256 * 4)));
  });

  it("viridis, magma, inferno and plasma match matplotlib's listed data within half an 8-bit step", () => {
    // A few entries of matplotlib's float tables (first, middle, last).
    const samples: [string, number, [number, number, number]][] = [
      ['viridis', 0, [0.267004, 0.004874, 0.329415]],
      ['viridis', 255, [0.993248, 0.906157, 0.143936]],
      ['magma', 0, [0.001462, 0.000466, 0.013866]],
      ['magma', 255, [0.987053, 0.991438, 0.749504]],
      ['magma', 127, [0.709962, 0.212797, 0.477201]],
      ['inferno', 0, [0.001462, 0.000466, 0.013866]],
      ['inferno', 3, [0.004547, 0.003392, 0.030909]],
    ];
    for (const [name, i, rgb] of samples) {
      const lut = colormap(name).lut;
      expect(maxAbsDiff(lut.slice(4 * i, 4 * i + 3), rgb)).toBeLessThanOrEqual(0.5 / 255 + 1e-9);
      expect(lut[4 * i + 3]).toBe(1);
    }
    for (const name of ['viridis', 'magma', 'inferno', 'plasma']) expect(colormap(name).N).toBe(256);
  });

  it("jet follows matplotlib's segment data", () => {
    const jet = colormap('jet');
    expect(Array.from(jet.lut.slice(0, 4))).toEqual([0, 0, 0.5, 1]);
    expect(Array.from(jet.lut.slice(255 * 4))).toEqual([0.5, 0, 0, 1]);
    // Sample 128 sits at x = 128/255 ≈ 0.502: red 0.502→(0.502−0.35)/0.31, green 1, blue (0.65−0.502)/0.31.
    const x = 128 / 255;
    expect(jet.lut[128 * 4]).toBeCloseTo((x - 0.35) / 0.31, 10);
    expect(jet.lut[128 * 4 + 1]).toBe(1);
    expect(jet.lut[128 * 4 + 2]).toBeCloseTo((0.65 - x) / 0.31, 10);
  });

  it('builds maps from lists and names, and refuses unknown ones with invalid_option', () => {
    expect(colormapNames()).toEqual(expect.arrayContaining(['RdWhGn', 'Greens', 'Reds', 'Blues', 'gray', 'viridis', 'magma', 'inferno', 'jet']));
    expect(parseColor('green')).toEqual([0, 128 / 255, 0, 1]);
    expect(parseColor('#f00')).toEqual([1, 0, 0, 1]);
    const bw = colormapFromList('bw', ['black', 'white'], 3);
    expect(Array.from(bw.lut)).toEqual([0, 0, 0, 1, 0.5, 0.5, 0.5, 1, 1, 1, 1, 1]);
    expect(listedColormap('two', 'ff000000ff00').N).toBe(2);
    expect(colormap(bw)).toBe(bw);
    for (const bad of [() => colormap('Greenz'), () => parseColor('notacolour')]) {
      try {
        bad();
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(ExplainError);
        expect((e as ExplainError).code).toBe('invalid_option');
        expect((e as ExplainError).name).toBe('ExplainError');
      }
    }
  });
});
