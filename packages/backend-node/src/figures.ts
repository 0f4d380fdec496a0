import { createRequire } from 'node:module';
import { createCanvas, GlobalFonts } from '@napi-rs/canvas';
import { drawMetricCurve, makePanels, renderFigure, type HWC, type MetricCurveLike, type PanelSpec, type VisMethod, type VisSign } from '@easy-explain/viz';

const require = createRequire(import.meta.url);
/** The family figures are drawn in: matplotlib's default font, shipped by `@fontsource/dejavu-sans` so no system font is needed. */
export const FIGURE_FONT = 'DejaVu Sans';
let fontsRegistered = false;

const fontFiles: string[] = [];

/**
 * Registers DejaVu Sans from @fontsource/dejavu-sans with @napi-rs/canvas, once, so figures render the same on
 * machines without system fonts. Only the regular weight: figure text is never bold, and each font costs ~0.1 s.
 * Returns the font files registered.
 */
export function registerFonts(): string[] {
  if (fontsRegistered) return fontFiles;
  for (const weight of ['400']) {
    const file = require.resolve(`@fontsource/dejavu-sans/files/dejavu-sans-latin-${weight}-normal.woff2`);
    if (!GlobalFonts.registerFromPath(file, FIGURE_FONT)) throw new Error(`@napi-rs/canvas could not load the font ${file}`);
    fontFiles.push(file);
  }
  fontsRegistered = true;
  return fontFiles;
}

/** One figure row, drawn and encoded. */
export interface Figure {
  methods: VisMethod[];
  signs: VisSign[];
  titles: string[];
  width: number;
  height: number;
  /** The figure as a PNG file. */
  png: Uint8Array;
}

/** Draws panels side by side (titles, colour bars) and encodes the figure as PNG. */
export async function drawPanels(panels: readonly PanelSpec[]): Promise<Figure> {
  registerFonts();
  const canvas = renderFigure((w, h) => createCanvas(w, h), panels, { fontFamily: `${FIGURE_FONT}, sans-serif` });
  const png = await canvas.encode('png');
  return { methods: [], signs: [], titles: panels.map((p) => p.title ?? ''), width: canvas.width, height: canvas.height, png: new Uint8Array(png.buffer, png.byteOffset, png.length) };
}

/** Draws one row of panels (easy-explain's visualize_image_attr_multiple call) and encodes it as PNG. */
export async function drawRow(
  attribution: HWC,
  image: HWC,
  methods: VisMethod[],
  signs: VisSign[],
  name: string,
  options: { outlierPerc?: number; onWarning?: (message: string) => void } = {},
): Promise<Figure> {
  registerFonts();
  const requests = methods.map((method, i) => ({ method, sign: signs[i], outlierPerc: options.outlierPerc }));
  const panels = makePanels(attribution, image, requests, { label: name, onWarning: options.onWarning });
  const canvas = renderFigure((w, h) => createCanvas(w, h), panels, { fontFamily: `${FIGURE_FONT}, sans-serif` });
  const png = await canvas.encode('png');
  return {
    methods,
    signs,
    titles: panels.map((p) => p.title ?? ''),
    width: canvas.width,
    height: canvas.height,
    png: new Uint8Array(png.buffer, png.byteOffset, png.length),
  };
}

/** Curve panels are this size, side by side, on white. */
const CURVE_PANEL = { width: 360, height: 280 };

/** Deletion/insertion curves side by side (RISE's plots), encoded as PNG. */
export async function drawCurves(curves: Array<MetricCurveLike & { metric: string }>): Promise<Figure> {
  registerFonts();
  const canvas = createCanvas(CURVE_PANEL.width * curves.length, CURVE_PANEL.height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const titles = curves.map((curve, i) => {
    drawMetricCurve(ctx, curve, { left: i * CURVE_PANEL.width, top: 0, ...CURVE_PANEL, fontFamily: `${FIGURE_FONT}, sans-serif` });
    return `${curve.metric} (AUC = ${curve.auc?.toFixed(3)})`;
  });
  const png = await canvas.encode('png');
  return { methods: [], signs: [], titles, width: canvas.width, height: canvas.height, png: new Uint8Array(png.buffer, png.byteOffset, png.length) };
}
