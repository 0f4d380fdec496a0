import { ExplainError } from './errors.js';
import { INFERNO_HEX, MAGMA_HEX, PLASMA_HEX, VIRIDIS_HEX } from './listed-data.js';

/** A colour map as matplotlib samples it: a table of N RGBA colours looked up by `floor(x·N)`. */
export interface Colormap {
  readonly name: string;
  /** Number of entries (256 for every built-in map). */
  readonly N: number;
  /** N×4 RGBA values in 0..1, one row per entry. */
  readonly lut: Float64Array;
  /**
   * Table row for a value already scaled to 0..1, by matplotlib's rule: `floor(x·N)`, with exactly 1 → N−1,
   * below 0 → the first entry ("under"), above 1 → the last ("over"). NaN gives −1: the "bad" colour, transparent.
   */
  index(x: number): number;
  /** RGBA in 0..1 for a value scaled to 0..1 (transparent black for NaN). */
  rgba(x: number): [number, number, number, number];
}

/** One colour: a hex string (`#rgb`, `#rrggbb`, `#rrggbbaa`), a name matplotlib knows, or RGB(A) in 0..1. */
export type ColorSpec = string | readonly [number, number, number] | readonly [number, number, number, number];
/** A channel of a segmented map: rows `[x, value just below x, value just above x]`, x rising from 0 to 1. */
export type Segments = readonly (readonly [number, number, number])[];
export interface SegmentData {
  red: Segments;
  green: Segments;
  blue: Segments;
  alpha?: Segments;
}

class TableColormap implements Colormap {
  readonly N: number;

  constructor(
    readonly name: string,
    readonly lut: Float64Array,
  ) {
    this.N = lut.length / 4;
  }

  index(x: number): number {
    if (Number.isNaN(x)) return -1;
    if (x < 0) return 0;
    if (x >= 1) return this.N - 1;
    return Math.floor(x * this.N);
  }

  rgba(x: number): [number, number, number, number] {
    const i = this.index(x);
    if (i < 0) return [0, 0, 0, 0];
    const l = this.lut;
    return [l[4 * i], l[4 * i + 1], l[4 * i + 2], l[4 * i + 3]];
  }
}

// The few colour names the built-in maps and typical callers use, with matplotlib's values
// ('green' is CSS green, #008000, not pure green).
const NAMED: Record<string, string> = {
  red: '#ff0000',
  white: '#ffffff',
  green: '#008000',
  blue: '#0000ff',
  black: '#000000',
  yellow: '#ffff00',
  cyan: '#00ffff',
  magenta: '#ff00ff',
  orange: '#ffa500',
  gray: '#808080',
  grey: '#808080',
  lime: '#00ff00',
};

/** Parse a colour to RGBA in 0..1. */
export function parseColor(color: ColorSpec): [number, number, number, number] {
  if (typeof color !== 'string') {
    const [r, g, b, a = 1] = color as readonly number[];
    return [r, g, b, a];
  }
  const hex = (NAMED[color.toLowerCase()] ?? color).replace(/^#/, '');
  let digits: string;
  if (/^[0-9a-f]{3,4}$/i.test(hex)) digits = [...hex].map((c) => c + c).join('');
  else if (/^([0-9a-f]{6}|[0-9a-f]{8})$/i.test(hex)) digits = hex;
  else {
    throw new ExplainError(
      'invalid_option',
      `Unknown colour ${JSON.stringify(color)}: use '#rrggbb', '#rrggbbaa', [r, g, b] in 0..1, or one of ${Object.keys(NAMED).join(', ')}.`,
    );
  }
  const ch = (k: number) => parseInt(digits.slice(2 * k, 2 * k + 2), 16) / 255;
  return [ch(0), ch(1), ch(2), digits.length === 8 ? ch(3) : 1];
}

/**
 * Sample one segmented channel at N points the way matplotlib's LinearSegmentedColormap does: sample i sits at
 * (N−1)·(i·(1/(N−1))), interior samples interpolate linearly between the two knots around them (the first knot
 * at or after the sample and the one before it), the ends take the outer values, and the result is clipped to 0..1.
 */
function sampleSegments(segments: Segments, N: number, out: Float64Array, channel: number): void {
  if (segments.length < 2 || segments[0][0] !== 0 || segments[segments.length - 1][0] !== 1) {
    throw new ExplainError('invalid_option', 'Segment data must have at least two rows, starting at x = 0 and ending at x = 1.');
  }
  const xs = segments.map((s) => s[0] * (N - 1));
  for (let k = 1; k < xs.length; k++) {
    if (xs[k] < xs[k - 1]) throw new ExplainError('invalid_option', 'Segment data x values must not decrease.');
  }
  const step = 1 / (N - 1);
  const clip = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
  out[channel] = clip(segments[0][2]);
  out[4 * (N - 1) + channel] = clip(segments[segments.length - 1][1]);
  let j = 0;
  for (let i = 1; i < N - 1; i++) {
    const x = (N - 1) * (i * step);
    while (j < xs.length && xs[j] < x) j++; // first knot with xs[j] >= x
    const lo = segments[j - 1];
    const hi = segments[j];
    const t = (x - xs[j - 1]) / (xs[j] - xs[j - 1]);
    out[4 * i + channel] = clip(t * (hi[1] - lo[2]) + lo[2]);
  }
}

/** A map from segment data (matplotlib's LinearSegmentedColormap), sampled at N entries. */
export function linearSegmentedColormap(name: string, data: SegmentData, N = 256): Colormap {
  const lut = new Float64Array(4 * N);
  sampleSegments(data.red, N, lut, 0);
  sampleSegments(data.green, N, lut, 1);
  sampleSegments(data.blue, N, lut, 2);
  sampleSegments(
    data.alpha ?? [
      [0, 1, 1],
      [1, 1, 1],
    ],
    N,
    lut,
    3,
  );
  return new TableColormap(name, lut);
}

/** A map running evenly through the given colours (matplotlib's `LinearSegmentedColormap.from_list`). */
export function colormapFromList(name: string, colors: readonly ColorSpec[], N = 256): Colormap {
  if (colors.length < 2) throw new ExplainError('invalid_option', 'A colour map needs at least two colours.');
  const rgba = colors.map(parseColor);
  const n = colors.length;
  const at = (k: number) => (k === n - 1 ? 1 : k * (1 / (n - 1))); // numpy linspace(0, 1, n)
  const channel = (c: number): Segments => rgba.map((col, k) => [at(k), col[c], col[c]] as const);
  return linearSegmentedColormap(name, { red: channel(0), green: channel(1), blue: channel(2), alpha: channel(3) }, N);
}

/** A map made of the given colours as they are (matplotlib's ListedColormap). A string is concatenated `rrggbb`. */
export function listedColormap(name: string, colors: string | readonly ColorSpec[]): Colormap {
  const list: ColorSpec[] =
    typeof colors === 'string' ? (colors.match(/[0-9a-f]{6}/gi) ?? []).map((h) => `#${h}`) : [...colors];
  if (list.length < 1) throw new ExplainError('invalid_option', 'A listed colour map needs at least one colour.');
  const lut = new Float64Array(4 * list.length);
  list.forEach((c, i) => lut.set(parseColor(c), 4 * i));
  return new TableColormap(name, lut);
}

// ColorBrewer's 9-class sequential schemes, as matplotlib ships them (its Greens, Reds and Blues).
const BREWER: Record<'Greens' | 'Reds' | 'Blues', string> = {
  Greens: 'f7fcf5 e5f5e0 c7e9c0 a1d99b 74c476 41ab5d 238b45 006d2c 00441b',
  Reds: 'fff5f0 fee0d2 fcbba1 fc9272 fb6a4a ef3b2c cb181d a50f15 67000d',
  Blues: 'f7fbff deebf7 c6dbef 9ecae1 6baed6 4292c6 2171b5 08519c 08306b',
};

const ramp = (...rows: [number, number][]): Segments => rows.map(([x, y]) => [x, y, y] as const);

const BUILDERS: Record<string, () => Colormap> = {
  // Captum's map for sign 'all': red → white → green.
  RdWhGn: () => colormapFromList('RdWhGn', ['red', 'white', 'green']),
  Greens: () => colormapFromList('Greens', BREWER.Greens.split(' ').map((h) => `#${h}`)),
  Reds: () => colormapFromList('Reds', BREWER.Reds.split(' ').map((h) => `#${h}`)),
  Blues: () => colormapFromList('Blues', BREWER.Blues.split(' ').map((h) => `#${h}`)),
  gray: () => {
    const r = ramp([0, 0], [1, 1]);
    return linearSegmentedColormap('gray', { red: r, green: r, blue: r });
  },
  jet: () =>
    linearSegmentedColormap('jet', {
      red: ramp([0, 0], [0.35, 0], [0.66, 1], [0.89, 1], [1, 0.5]),
      green: ramp([0, 0], [0.125, 0], [0.375, 1], [0.64, 1], [0.91, 0], [1, 0]),
      blue: ramp([0, 0.5], [0.11, 1], [0.34, 1], [0.65, 0], [1, 0]),
    }),
  viridis: () => listedColormap('viridis', VIRIDIS_HEX),
  magma: () => listedColormap('magma', MAGMA_HEX),
  inferno: () => listedColormap('inferno', INFERNO_HEX),
  plasma: () => listedColormap('plasma', PLASMA_HEX),
};

const cache = new Map<string, Colormap>();

/** Names `colormap()` accepts. */
export function colormapNames(): string[] {
  return Object.keys(BUILDERS);
}

/**
 * A built-in colour map by name (case-sensitive, as in matplotlib): RdWhGn, Greens, Reds, Blues, gray, jet,
 * viridis, magma, inferno, plasma. A Colormap object passes through unchanged.
 */
export function colormap(name: string | Colormap): Colormap {
  if (typeof name !== 'string') return name;
  let map = cache.get(name);
  if (!map) {
    const build = BUILDERS[name];
    if (!build) {
      throw new ExplainError(
        'invalid_option',
        `Unknown colour map ${JSON.stringify(name)}: use one of ${colormapNames().join(', ')}, or pass a Colormap object.`,
      );
    }
    map = build();
    cache.set(name, map);
  }
  return map;
}
