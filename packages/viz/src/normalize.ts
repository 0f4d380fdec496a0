import { ExplainError } from './errors.js';
import { VIS_SIGNS, type HWC, type VisSign } from './types.js';

const f32 = Math.fround;

/** Everything `normalizeAttr` computes, for callers that want to know why a panel is blank. */
export interface NormalizedAttr {
  /** H×W map: in −1..1 for sign `all`, in 0..1 otherwise (negative attributions come out positive). */
  values: Float32Array;
  height: number;
  width: number;
  /** The scale the values were divided by (negative for sign `negative`, as in Captum); 0 when blank. */
  threshold: number;
  /** Index of the threshold in the ascending sorted values (−1 when blank). */
  thresholdIndex: number;
  /**
   * True when the chosen sign has nothing to show (threshold 0, where Captum fails with
   * "Cannot normalize by scale factor = 0"): the map is all zeros and draws as a blank panel.
   */
  blank: boolean;
  /** Human-readable notes: the blank case, or Captum's warning for a threshold below 1e-5. */
  warnings: string[];
}

export function checkHWC(what: string, a: HWC): void {
  const ok =
    Number.isInteger(a.height) &&
    Number.isInteger(a.width) &&
    Number.isInteger(a.channels) &&
    a.height > 0 &&
    a.width > 0 &&
    a.channels > 0 &&
    a.data.length === a.height * a.width * a.channels;
  if (!ok) {
    throw new ExplainError(
      'invalid_option',
      `${what} must be H×W×C with data.length = height·width·channels (got ${a.height}×${a.width}×${a.channels} ` +
        `and ${a.data.length} values): pass one image of the NHWC batch with its shape.`,
    );
  }
}

export function checkSign(sign: string): asserts sign is VisSign {
  if (!(VIS_SIGNS as readonly string[]).includes(sign)) {
    throw new ExplainError('invalid_option', `Unknown sign ${JSON.stringify(sign)}: use one of ${VIS_SIGNS.join(', ')}.`);
  }
}

/**
 * Sum over channels in float32, channel by channel in order (what numpy's `sum(axis=2)` gives on float32 HWC).
 */
export function channelSum(attr: HWC): Float32Array {
  checkHWC('The attribution', attr);
  const { data, channels: c } = attr;
  const n = attr.height * attr.width;
  const out = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    let acc = f32(data[p * c]);
    for (let k = 1; k < c; k++) acc = f32(acc + f32(data[p * c + k]));
    out[p] = acc;
  }
  return out;
}

/**
 * Captum's `_cumulative_sum_threshold` on non-negative float32 values: sort ascending, running float32 sum, and
 * take the first value whose running sum reaches `percentile`% of the total. The target is computed in float64
 * and compared in float32, as numpy 1.x does.
 */
export function cumulativeSumThreshold(values: Float32Array, percentile: number): { threshold: number; index: number } {
  const sorted = Float32Array.from(values).sort();
  const n = sorted.length;
  const cum = new Float32Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc = f32(acc + sorted[i]);
    cum[i] = acc;
  }
  const target = f32(cum[n - 1] * 0.01 * percentile);
  let index = n - 1; // numpy would fail if nothing reached the target; the largest value is the natural answer
  for (let i = 0; i < n; i++) {
    if (cum[i] >= target) {
      index = i;
      break;
    }
  }
  return { threshold: sorted[index], index };
}

/**
 * Captum's `_normalize_attr(attr, sign, outlierPerc, reduction_axis=2)`, with its assertion turned into a blank
 * result. See `normalizeAttr` for the short form.
 */
export function normalizeAttrDetailed(attr: HWC, sign: VisSign, outlierPerc = 2): NormalizedAttr {
  checkSign(sign);
  if (!(typeof outlierPerc === 'number' && outlierPerc >= 0 && outlierPerc <= 100)) {
    throw new ExplainError('invalid_option', `outlierPerc must be a number from 0 to 100 (got ${String(outlierPerc)}); the default is 2.`);
  }
  const sum = channelSum(attr);
  const n = sum.length;
  // The values the threshold is taken from (non-negative), and the signed values that get divided.
  const magnitude = new Float32Array(n);
  const signed = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = sum[i];
    if (sign === 'all') {
      magnitude[i] = Math.abs(s);
      signed[i] = s;
    } else if (sign === 'positive') {
      signed[i] = magnitude[i] = s > 0 ? s : 0;
    } else if (sign === 'negative') {
      signed[i] = s < 0 ? s : 0;
      magnitude[i] = Math.abs(signed[i]);
    } else {
      signed[i] = magnitude[i] = Math.abs(s);
    }
  }
  const { threshold: t, index } = cumulativeSumThreshold(magnitude, 100 - outlierPerc);
  const threshold = sign === 'negative' ? -t : t;
  const warnings: string[] = [];
  const base = { height: attr.height, width: attr.width };
  if (threshold === 0 || !Number.isFinite(threshold)) {
    const what = sign === 'all' || sign === 'absolute_value' ? 'non-zero' : sign;
    warnings.push(
      `No ${what} attributions to show (normalization threshold ${threshold}): the panel is blank. ` +
        `Choose another sign, or check the attribution.`,
    );
    return { ...base, values: new Float32Array(n), threshold: 0, thresholdIndex: -1, blank: true, warnings };
  }
  if (Math.abs(threshold) < 1e-5) {
    warnings.push(
      `Normalizing by a value close to 0 (${threshold}): attribution values are all close to 0, and the picture may mislead.`,
    );
  }
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = f32(signed[i] / threshold);
    values[i] = v < -1 ? -1 : v > 1 ? 1 : v;
  }
  return { ...base, values, threshold, thresholdIndex: index, blank: false, warnings };
}

/**
 * Captum's `_normalize_attr`: channel sum, sign selection, cumulative-sum outlier threshold at 100 − outlierPerc,
 * `clip(x / threshold, −1, 1)`. Returns the H×W map (row-major). Where Captum asserts (the sign has no values),
 * the map is all zeros; `onWarning` (or `normalizeAttrDetailed`) tells about it.
 */
export function normalizeAttr(
  attr: HWC,
  sign: VisSign,
  outlierPerc = 2,
  options: { onWarning?: (message: string) => void } = {},
): Float32Array {
  const result = normalizeAttrDetailed(attr, sign, outlierPerc);
  for (const w of result.warnings) options.onWarning?.(w);
  return result.values;
}
