import { parseColor } from './colormap.js';
import { ExplainError } from './errors.js';
import { formatTick, type Canvas2DLike } from './figure.js';

/** A deletion or insertion curve as @easy-explain/core's metrics return it (structural: viz does not import core). */
export interface MetricCurveLike {
  /** Fractions of the pixels changed, increasing from 0 to 1. */
  x: ArrayLike<number>;
  /** The target's probability at each x. */
  y: ArrayLike<number>;
  /** Area under the curve, shown in the title. */
  auc?: number;
  /** 'deletion' or 'insertion': names the title and the x label. */
  metric?: string;
}

/** Canvas-2D calls the curve needs beyond the figure's: paths and rotated text. Browser and @napi-rs/canvas fit. */
export interface CurveContext2D extends Canvas2DLike {
  strokeStyle: string | object;
  lineWidth: number;
  beginPath(): void;
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  closePath(): void;
  fill(): void;
  stroke(): void;
  save(): void;
  restore(): void;
  translate(x: number, y: number): void;
  rotate(angle: number): void;
}

export interface MetricCurveOptions {
  /** Where the figure goes on the context and its size in CSS pixels; default (0, 0), 360 × 280. */
  left?: number;
  top?: number;
  width?: number;
  height?: number;
  /** Default "Deletion (AUC = 0.123)" from the curve's metric and auc. */
  title?: string;
  /** Default "Fraction of pixels deleted" / "inserted" / "changed". */
  xLabel?: string;
  /** Default "Probability". */
  yLabel?: string;
  /** Top of the y axis; default 1.05 (as RISE's plots), or 1.05 × the largest y when a score exceeds 1. */
  yMax?: number;
  /** Line colour; default matplotlib's first colour, #1f77b4. */
  color?: string;
  /** Opacity of the area under the curve; default 0.4 (RISE's fill_between alpha). */
  fillAlpha?: number;
  fontFamily?: string;
  /** Default 14. */
  titleSize?: number;
  /** Default 11. */
  tickSize?: number;
  /** Default white. */
  background?: string;
  /** Text, axes and ticks; default black. */
  foreground?: string;
}

/** Where `drawMetricCurve` put things, to place more drawing or check pixels. */
export interface MetricCurveGeometry {
  /** The axes' inner rectangle: x = 0 at its left edge, x = 1 at its right, y = 0 at its bottom, y = yMax at its top. */
  plot: { x: number; y: number; width: number; height: number };
  yMax: number;
  title: string;
  /** Canvas coordinates of a curve point. */
  toCanvas(x: number, y: number): [number, number];
}

const DEFAULT_FONT = 'DejaVu Sans, Verdana, sans-serif';

function checkCurve(curve: MetricCurveLike): void {
  const { x, y } = curve ?? {};
  if (!x || !y || typeof x.length !== 'number' || x.length !== y.length || x.length < 2) {
    throw new ExplainError('invalid_option', 'A metric curve needs x and y of the same length, at least 2 points.');
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i]) || !Number.isFinite(y[i])) {
      throw new ExplainError('invalid_option', `Curve point ${i} is not finite (x ${x[i]}, y ${y[i]}).`);
    }
    if (i > 0 && x[i] < x[i - 1]) throw new ExplainError('invalid_option', 'The curve x values must not decrease.');
  }
}

function defaultTitle(curve: MetricCurveLike): string {
  const name = curve.metric ? curve.metric.charAt(0).toUpperCase() + curve.metric.slice(1) : 'Curve';
  return curve.auc === undefined ? name : `${name} (AUC = ${curve.auc.toFixed(3)})`;
}

/**
 * Draw a deletion or insertion curve (RISE's plot): the probability against the fraction of pixels changed, the area
 * under it shaded, axes with ticks at 0, 0.25 … 1, axis labels, and the AUC in the title. Returns the geometry.
 */
export function drawMetricCurve(ctx: CurveContext2D, curve: MetricCurveLike, options: MetricCurveOptions = {}): MetricCurveGeometry {
  checkCurve(curve);
  const left = options.left ?? 0;
  const top = options.top ?? 0;
  const width = options.width ?? 360;
  const height = options.height ?? 280;
  const font = options.fontFamily ?? DEFAULT_FONT;
  const titleSize = options.titleSize ?? 14;
  const tickSize = options.tickSize ?? 11;
  const foreground = options.foreground ?? '#000000';
  const color = options.color ?? '#1f77b4';
  const fillAlpha = options.fillAlpha ?? 0.4;
  if (!(fillAlpha >= 0 && fillAlpha <= 1)) throw new ExplainError('invalid_option', `fillAlpha must be in [0, 1]; got ${fillAlpha}.`);
  const largest = Math.max(...Array.from(curve.y));
  const yMax = options.yMax ?? (largest > 1 ? 1.05 * largest : 1.05);
  if (!(yMax > 0)) throw new ExplainError('invalid_option', `yMax must be > 0; got ${yMax}.`);
  const title = options.title ?? defaultTitle(curve);
  const action = curve.metric === 'deletion' ? 'deleted' : curve.metric === 'insertion' ? 'inserted' : 'changed';
  const xLabel = options.xLabel ?? `Fraction of pixels ${action}`;
  const yLabel = options.yLabel ?? 'Probability';

  // Room for the title above, tick labels and the x label below, the y label and tick labels on the left.
  const titleBand = Math.ceil(titleSize * 1.3) + 8;
  const tickBand = 4 + 3 + Math.ceil(tickSize * 1.3);
  const labelBand = Math.ceil(tickSize * 1.3) + 4;
  const plot = {
    x: left + labelBand + Math.ceil(tickSize * 2.6) + 8,
    y: top + titleBand,
    width: 0,
    height: 0,
  };
  plot.width = Math.max(1, left + width - 12 - plot.x);
  plot.height = Math.max(1, top + height - tickBand - labelBand - 4 - plot.y);
  const toCanvas = (x: number, y: number): [number, number] => [plot.x + x * plot.width, plot.y + plot.height * (1 - y / yMax)];

  ctx.fillStyle = options.background ?? '#ffffff';
  ctx.fillRect(left, top, width, height);

  // The area under the curve, then the curve over it.
  const [r, g, b] = parseColor(color).map((v) => Math.round(v * 255));
  ctx.beginPath();
  ctx.moveTo(...toCanvas(curve.x[0], 0));
  for (let i = 0; i < curve.x.length; i++) ctx.lineTo(...toCanvas(curve.x[i], curve.y[i]));
  ctx.lineTo(...toCanvas(curve.x[curve.x.length - 1], 0));
  ctx.closePath();
  ctx.fillStyle = `rgba(${r}, ${g}, ${b}, ${fillAlpha})`;
  ctx.fill();
  ctx.beginPath();
  for (let i = 0; i < curve.x.length; i++) {
    if (i === 0) ctx.moveTo(...toCanvas(curve.x[i], curve.y[i]));
    else ctx.lineTo(...toCanvas(curve.x[i], curve.y[i]));
  }
  ctx.strokeStyle = color;
  ctx.lineWidth = 2;
  ctx.stroke();

  // Axes: the frame, one pixel outside the plot, and ticks with labels.
  ctx.fillStyle = foreground;
  ctx.fillRect(plot.x - 1, plot.y - 1, plot.width + 2, 1);
  ctx.fillRect(plot.x - 1, plot.y + plot.height, plot.width + 2, 1);
  ctx.fillRect(plot.x - 1, plot.y - 1, 1, plot.height + 2);
  ctx.fillRect(plot.x + plot.width, plot.y - 1, 1, plot.height + 2);
  ctx.font = `${tickSize}px ${font}`;
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    const [tx] = toCanvas(v, 0);
    ctx.fillRect(Math.round(tx), plot.y + plot.height + 1, 1, 4);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillText(formatTick(v), tx, plot.y + plot.height + 7);
    if (v <= yMax) {
      const [, ty] = toCanvas(0, v);
      ctx.fillRect(plot.x - 5, Math.round(ty), 4, 1);
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText(formatTick(v), plot.x - 7, ty);
    }
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  ctx.fillText(xLabel, plot.x + plot.width / 2, top + height - 2);
  ctx.save();
  ctx.translate(left + 2, plot.y + plot.height / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = 'top';
  ctx.fillText(yLabel, 0, 0);
  ctx.restore();
  ctx.font = `${titleSize}px ${font}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'alphabetic';
  ctx.fillText(title, plot.x + plot.width / 2, top + Math.ceil(titleSize) + 4);
  return { plot, yMax, title, toCanvas };
}
