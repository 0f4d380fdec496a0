import { parseColor } from './colormap.js';
import { ExplainError } from './errors.js';
import type { HWC, ImageDataLike, VisMethod, VisSign } from './types.js';
import { compositeOver, scaleNearest, visualizeImageAttr, type ColorbarSpec, type VisualizeOptions } from './visualize.js';
import { easyExplainTitle } from './titles.js';

/**
 * The part of a Canvas 2D context the figure needs. Browser `CanvasRenderingContext2D`,
 * `OffscreenCanvasRenderingContext2D` and @napi-rs/canvas's `SKRSContext2D` all fit.
 */
export interface Canvas2DLike {
  fillStyle: string | object;
  font: string;
  textAlign: string;
  textBaseline: string;
  fillRect(x: number, y: number, w: number, h: number): void;
  fillText(text: string, x: number, y: number): void;
  measureText(text: string): { width: number };
  createImageData(width: number, height: number): CanvasImageData;
  putImageData(imageData: CanvasImageData, dx: number, dy: number): void;
}

/** What `createImageData` gives back, as far as the figure uses it (canvas packages differ in the rest). */
export interface CanvasImageData {
  readonly width: number;
  readonly height: number;
  readonly data: { set(values: ArrayLike<number>, offset?: number): void };
}

/** One panel of a figure. */
export interface PanelSpec {
  /** The pixels (e.g. what `visualizeImageAttr` returns), shown magnified with nearest-neighbour scaling. */
  image: ImageDataLike;
  title?: string;
  /** The colour bar under the panel; null or absent for none (its room is kept when another panel has one). */
  colorbar?: ColorbarSpec | null;
}

/** Sizes in CSS pixels. Every field is optional. */
export interface FigureLayout {
  /** Magnification of panel pixels; default: the smallest whole number making a panel's longer side ≥ `minPanelSize`. */
  scale?: number;
  /** Default 200. */
  minPanelSize?: number;
  /** Outer margin; default 16. */
  margin?: number;
  /** Space between panels; default 24. */
  gap?: number;
  /** Font family list for titles and tick labels; default "DejaVu Sans, Verdana, sans-serif" (matplotlib's font first). */
  fontFamily?: string;
  /** Title font size; default 14. Titles wider than their column are drawn smaller to fit. */
  titleSize?: number;
  /** Tick label font size; default 11. */
  tickSize?: number;
  /** Draw colour bars (Captum's `show_colorbar`); default: when any panel has one. */
  colorbar?: boolean;
  /** Opaque figure background ('#rrggbb' or a colour name); default white. */
  background?: string;
  /** Text, tick and outline colour; default black. */
  foreground?: string;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Where everything goes: computed from the panels and the layout alone, so the canvas can be sized first. */
export interface FigureGeometry {
  width: number;
  height: number;
  scale: number;
  panels: {
    /** The magnified panel pixels. */
    image: Rect;
    /** Title centre x, its baseline y, and the width it may take. */
    title: { x: number; y: number; maxWidth: number };
    /** The colour bar (without its outline and ticks), when drawn. */
    colorbar: Rect | null;
  }[];
}

const DEFAULT_FONT = 'DejaVu Sans, Verdana, sans-serif';
// DejaVu Sans averages a little over 0.5 em per character in mixed-case text: used to give long titles room before any
// text can be measured (the canvas size must be known before the canvas exists).
const CHAR_EM = 0.56;

function resolved(layout: FigureLayout) {
  return {
    minPanelSize: layout.minPanelSize ?? 200,
    margin: layout.margin ?? 16,
    gap: layout.gap ?? 24,
    fontFamily: layout.fontFamily ?? DEFAULT_FONT,
    titleSize: layout.titleSize ?? 14,
    tickSize: layout.tickSize ?? 11,
    background: layout.background ?? '#ffffff',
    foreground: layout.foreground ?? '#000000',
  };
}

/** Compute the figure's size and the place of every panel, title and colour bar. */
export function figureLayout(panels: readonly PanelSpec[], layout: FigureLayout = {}): FigureGeometry {
  if (panels.length === 0) throw new ExplainError('invalid_option', 'A figure needs at least one panel.');
  const L = resolved(layout);
  const longest = Math.max(...panels.map((p) => Math.max(p.image.width, p.image.height)));
  const scale = layout.scale ?? Math.max(1, Math.ceil(L.minPanelSize / longest));
  if (!(scale > 0)) throw new ExplainError('invalid_option', `scale must be a positive number (got ${scale}).`);
  const withBars = layout.colorbar ?? panels.some((p) => p.colorbar);
  const hasTitles = panels.some((p) => p.title);
  const sizes = panels.map((p) => ({ w: Math.round(p.image.width * scale), h: Math.round(p.image.height * scale) }));
  const panelH = Math.max(...sizes.map((s) => s.h));
  const titleBand = hasTitles ? Math.ceil(L.titleSize * 1.3) + 6 : 0;
  const barPad = Math.max(4, Math.round(0.04 * panelH));
  const barH = Math.max(4, Math.round(0.05 * panelH)); // Captum: 5 % of the panel's height
  const tickLen = 4;
  const tickBand = tickLen + 2 + Math.ceil(L.tickSize * 1.3);
  const top = L.margin + titleBand;
  let x = L.margin;
  const boxes = panels.map((p, i) => {
    const { w, h } = sizes[i];
    const titleW = p.title ? Math.ceil(p.title.length * CHAR_EM * L.titleSize) : 0;
    const colW = Math.max(w, titleW);
    const px = x + Math.floor((colW - w) / 2);
    x += colW + L.gap;
    return {
      image: { x: px, y: top, width: w, height: h },
      title: { x: x - L.gap - colW / 2, y: L.margin + Math.ceil(L.titleSize), maxWidth: colW },
      colorbar: withBars ? { x: px, y: top + h + barPad, width: w, height: barH } : null,
    };
  });
  const width = x - L.gap + L.margin;
  const height = top + panelH + (withBars ? barPad + barH + tickBand : 0) + L.margin;
  return { width, height, scale, panels: boxes };
}

/** The canvas size `drawFigure` needs for these panels and layout. */
export function figureSize(panels: readonly PanelSpec[], layout: FigureLayout = {}): { width: number; height: number } {
  const { width, height } = figureLayout(panels, layout);
  return { width, height };
}

function putPixels(ctx: Canvas2DLike, pixels: ImageDataLike, x: number, y: number): void {
  const target = ctx.createImageData(pixels.width, pixels.height);
  target.data.set(pixels.data);
  ctx.putImageData(target, x, y);
}

/** A tick label as matplotlib writes it: at least one decimal, a true minus sign. */
export function formatTick(v: number): string {
  const r = Math.round(v * 100) / 100 || 0;
  const s = Number.isInteger(r) ? r.toFixed(1) : String(r);
  return s.replace('-', '\u2212');
}

/**
 * Draw panels side by side (Captum's `visualize_image_attr_multiple`, one row) with their titles and colour bars on
 * a Canvas-2D context at least `figureSize(panels, layout)` large, starting at its top-left corner. Panels are
 * magnified with nearest-neighbour scaling and put on a white background; text is the context's anti-aliased text.
 * Returns the geometry used.
 */
export function drawFigure(ctx: Canvas2DLike, panels: readonly PanelSpec[], layout: FigureLayout = {}): FigureGeometry {
  const L = resolved(layout);
  const geo = figureLayout(panels, layout);
  const bg = parseColor(L.background).slice(0, 3).map((v) => Math.round(v * 255)) as [number, number, number];
  ctx.fillStyle = L.background;
  ctx.fillRect(0, 0, geo.width, geo.height);

  panels.forEach((panel, i) => {
    const box = geo.panels[i];
    const { image } = box;
    putPixels(ctx, scaleNearest(compositeOver(panel.image, bg), image.width, image.height), image.x, image.y);

    if (panel.title) {
      let size = L.titleSize;
      ctx.font = `${size}px ${L.fontFamily}`;
      const measured = ctx.measureText(panel.title).width;
      if (measured > box.title.maxWidth) {
        size = Math.max(6, Math.floor((L.titleSize * box.title.maxWidth) / measured));
        ctx.font = `${size}px ${L.fontFamily}`;
      }
      ctx.fillStyle = L.foreground;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'alphabetic';
      ctx.fillText(panel.title, box.title.x, box.title.y);
    }

    const bar = box.colorbar;
    if (bar && panel.colorbar) {
      const { cmap, vmin, vmax, alpha } = panel.colorbar;
      // One colour per pixel column, sampled at the column's centre, at the heat map's opacity over the background.
      const strip = new Uint8ClampedArray(4 * bar.width);
      for (let x = 0; x < bar.width; x++) {
        const [r, g, b, a] = cmap.rgba((x + 0.5) / bar.width);
        const k = a * alpha;
        strip.set([r, g, b].map((c, j) => Math.round((c * k + (bg[j] / 255) * (1 - k)) * 255)), 4 * x);
        strip[4 * x + 3] = 255;
      }
      putPixels(ctx, scaleNearest({ width: bar.width, height: 1, data: strip }, bar.width, bar.height), bar.x, bar.y);
      ctx.fillStyle = L.foreground;
      // Outline, one pixel outside the bar.
      ctx.fillRect(bar.x - 1, bar.y - 1, bar.width + 2, 1);
      ctx.fillRect(bar.x - 1, bar.y + bar.height, bar.width + 2, 1);
      ctx.fillRect(bar.x - 1, bar.y - 1, 1, bar.height + 2);
      ctx.fillRect(bar.x + bar.width, bar.y - 1, 1, bar.height + 2);
      // Ticks at vmin, the middle and vmax.
      ctx.font = `${L.tickSize}px ${L.fontFamily}`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'top';
      const ticks = [vmin, (vmin + vmax) / 2, vmax];
      ticks.forEach((v, j) => {
        const tx = Math.min(bar.x + bar.width - 1, bar.x + Math.round((j / 2) * bar.width));
        ctx.fillRect(tx, bar.y + bar.height + 1, 1, 4);
        ctx.fillText(formatTick(v), tx + 0.5, bar.y + bar.height + 7);
      });
    }
  });
  return geo;
}

/**
 * A canvas factory: `(w, h) => new OffscreenCanvas(w, h)` in browsers, `(w, h) => createCanvas(w, h)` with
 * @napi-rs/canvas in Node (wrap it in an arrow: its overloads would otherwise be typed as the SVG canvas).
 */
export type CanvasFactory<C extends { getContext(type: '2d'): unknown }> = (width: number, height: number) => C;

/** Size a new canvas for the figure, draw it, and return the canvas. */
export function renderFigure<C extends { getContext(type: '2d'): unknown }>(
  createCanvas: CanvasFactory<C>,
  panels: readonly PanelSpec[],
  layout: FigureLayout = {},
): C {
  const { width, height } = figureSize(panels, layout);
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d') as Canvas2DLike | null;
  if (!ctx) throw new ExplainError('invalid_option', 'The canvas has no 2D context.');
  drawFigure(ctx, panels, layout);
  return canvas;
}

/** One panel to make from an attribution: a method, a sign, and optional overrides. */
export interface PanelRequest extends VisualizeOptions {
  method: VisMethod;
  sign: VisSign;
  /** Default: easy-explain's title when `label` is given to `makePanels`, else none. */
  title?: string;
}

/**
 * Panels for a figure row from one attribution and its image, as easy-explain calls
 * `visualize_image_attr_multiple(..., show_colorbar=True)`: each request drawn with `visualizeImageAttr`, titled
 * with easy-explain's title for `label` unless a title is given. Warnings (blank panels) go to `onWarning`.
 */
export function makePanels(
  attr: HWC,
  image: HWC | undefined,
  requests: readonly PanelRequest[],
  options: { label?: string; colorbar?: boolean; onWarning?: (message: string) => void } = {},
): (PanelSpec & { warnings: string[]; blank: boolean })[] {
  return requests.map((req) => {
    const panel = visualizeImageAttr(attr, image, req);
    for (const w of panel.warnings) options.onWarning?.(w);
    const title = req.title ?? (options.label !== undefined ? easyExplainTitle(req.method, req.sign, options.label) : undefined);
    return {
      image: panel,
      title,
      colorbar: options.colorbar === false ? null : panel.colorbar,
      warnings: panel.warnings,
      blank: panel.blank,
    };
  });
}
