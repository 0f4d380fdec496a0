import { describe, expect, it } from 'vitest';
import { channelSum, ExplainError, normalizeAttr, normalizeAttrDetailed, type VisSign } from '../src/index.js';
import { attributionCases, flat, hwc, maxAbsDiff, reference, report } from './helpers.js';

const entries = reference('visualization.json').normalize as any[];
const cases = attributionCases();

describe('normalizeAttr (Captum _normalize_attr, reduction_axis 2)', () => {
  it('has the reference entries', () => {
    expect(entries.length).toBeGreaterThanOrEqual(6);
  });

  let worst = 0;
  let blanks = 0;
  for (const entry of entries) {
    describe(entry.source_id, () => {
      const source = cases.get(entry.source_id);
      const attr = hwc(source!.attribution);

      it('sums channels bit for bit as numpy does in float32', () => {
        expect(entry.outlier_perc).toBe(2);
        expect(Array.from(channelSum(attr))).toEqual(Array.from(Float32Array.from(flat(entry.channel_sum))));
      });

      for (const [sign, ref] of Object.entries<any>(entry.by_sign)) {
        it(`sign ${sign}`, () => {
          const result = normalizeAttrDetailed(attr, sign as VisSign, entry.outlier_perc);
          if (ref.error) {
            // Captum asserts ("Cannot normalize by scale factor = 0"): we return a blank map and say so.
            expect(result.blank).toBe(true);
            expect(result.threshold).toBe(0);
            expect(result.values.every((v) => v === 0)).toBe(true);
            expect(result.warnings.join(' ')).toMatch(/blank/);
            const warned: string[] = [];
            expect(normalizeAttr(attr, sign as VisSign, 2, { onWarning: (w) => warned.push(w) }).every((v) => v === 0)).toBe(true);
            expect(warned.length).toBe(1);
            blanks++;
            return;
          }
          expect(result.blank).toBe(false);
          expect(result.threshold).toBe(Math.fround(ref.threshold));
          expect(result.thresholdIndex).toBe(ref.threshold_sorted_index);
          const err = maxAbsDiff(result.values, flat(ref.normalized));
          worst = Math.max(worst, err);
          expect(err).toBeLessThanOrEqual(1e-6);
          // The one-channel channel sum normalises to the same map.
          const sum = hwc(entry.channel_sum);
          expect(maxAbsDiff(normalizeAttr(sum, sign as VisSign), result.values)).toBe(0);
        });
      }
    });
  }

  it('reports', () => {
    report('normalize max |Δ| vs Captum (all entries, all signs)', worst);
    report('normalize blank results where Captum asserts', blanks);
    expect(blanks).toBeGreaterThan(0);
  });

  it('refuses bad options with invalid_option', () => {
    const attr = { data: new Float32Array(12), height: 2, width: 2, channels: 3 };
    const bad = [
      () => normalizeAttr(attr, 'sideways' as VisSign),
      () => normalizeAttr(attr, 'all', 101),
      () => normalizeAttr({ ...attr, channels: 2 }, 'all'),
    ];
    for (const f of bad) {
      expect(f).toThrow(ExplainError);
      try {
        f();
      } catch (e) {
        expect((e as ExplainError).code).toBe('invalid_option');
      }
    }
  });

  it('warns like Captum when the threshold is tiny, and blanks an all-zero map for every sign', () => {
    const tiny = normalizeAttrDetailed({ data: Float32Array.of(1e-7, 2e-7, -1e-7, 0), height: 2, width: 2, channels: 1 }, 'all');
    expect(tiny.blank).toBe(false);
    expect(tiny.warnings[0]).toMatch(/close to 0/);
    for (const s of ['all', 'positive', 'negative', 'absolute_value'] as VisSign[]) {
      expect(normalizeAttrDetailed({ data: new Float32Array(4), height: 2, width: 2, channels: 1 }, s).blank).toBe(true);
    }
  });
});
