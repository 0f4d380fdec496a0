// runEasyExplain in a browser: the shared pipeline of @easy-explain/runtime, with images decoded by the browser,
// label files fetched, and figures drawn on canvases.
import { ExplainError, parseLabels, type Labels, type Model } from '@easy-explain/core/internal';
import {
  explainImage,
  type EasyExplainOptions as SharedOptions,
  type EasyExplainResult as SharedResult,
  type ExplainPlatform,
  type Explanation,
  type FigureInfo,
  type ModelMetadata,
} from '@easy-explain/runtime';
import { drawMetricCurve, makePanels, renderFigure } from '@easy-explain/viz';
import { ensureBackend } from './backend.js';
import { decodeImage, type ImageSource } from './image.js';
import { VERSION } from './version.js';

/** One figure row drawn on a canvas (OffscreenCanvas where available). */
export interface Figure extends FigureInfo {
  canvas: OffscreenCanvas | HTMLCanvasElement;
}
/** runEasyExplain's options: the shared ones, with the browser's image sources. */
export type EasyExplainOptions = SharedOptions<ImageSource>;
/** runEasyExplain's result: figures carry their canvas. */
export type EasyExplainResult = SharedResult<Figure>;
export type { Explanation };

function newCanvas(width: number, height: number): OffscreenCanvas | HTMLCanvasElement {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(width, height);
  return Object.assign(document.createElement('canvas'), { width, height });
}

async function fetchLabels(url: string, signal?: AbortSignal): Promise<Labels> {
  const response = await fetch(url, { signal }).catch((cause: unknown) => {
    throw new ExplainError('invalid_labels', `Could not download the labels at ${url}.`, { cause });
  });
  if (!response.ok) throw new ExplainError('invalid_labels', `Could not download the labels at ${url}: HTTP ${response.status}.`);
  return parseLabels(await response.json());
}

const webPlatform: ExplainPlatform<ImageSource, Figure> = {
  tool: `easy-explain-ts ${VERSION}`,
  ensureBackend,
  decodeImage: (image) => decodeImage(image),
  describeImage: (image) => (typeof image === 'string' ? image : image instanceof URL ? image.href : 'image'),
  readLabels: (url, signal) => fetchLabels(url, signal as AbortSignal | undefined),
  async drawPanels(panels) {
    const canvas = renderFigure(newCanvas, panels);
    return { methods: [], signs: [], titles: panels.map((p) => p.title ?? ''), width: canvas.width, height: canvas.height, canvas };
  },
  async drawCurves(curves) {
    const [width, height] = [360, 280];
    const canvas = newCanvas(width * curves.length, height);
    const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    curves.forEach((curve, i) => drawMetricCurve(ctx as never, curve, { left: i * width, top: 0, width, height }));
    const titles = curves.map((c) => `${c.metric} (AUC = ${c.auc.toFixed(3)})`);
    return { methods: [], signs: [], titles, width: canvas.width, height: canvas.height, canvas };
  },
  async drawFigure(attribution, image, methods, signs, title, options) {
    const requests = methods.map((method, i) => ({ method, sign: signs[i], outlierPerc: options.outlierPerc }));
    const panels = makePanels(attribution, image, requests, { label: title, onWarning: options.onWarning });
    const canvas = renderFigure(newCanvas, panels);
    return { methods, signs, titles: panels.map((p) => p.title ?? ''), width: canvas.width, height: canvas.height, canvas };
  },
};

/**
 * easy-explain's one call, in the browser: top-k predictions, one attribution, one figure per row of
 * visTypes/visSigns drawn by viz. Runs on the calling thread: call it from a worker (or use ExplainWorkerClient)
 * for long attributions. `outDir` is Node's: a browser rejects it.
 *
 * @example
 * ```ts
 * await setupBackend('auto'); // webgpu, else webgl, wasm
 * const model = await loadModel('https://example.com/mobilenet/model.json', { preset: 'mobilenet' });
 * const result = await runEasyExplain(model, { image: document.querySelector('img')!, method: 'grad_cam' });
 * document.body.append(result.figures[0].canvas as HTMLCanvasElement);
 * result.attribution.dispose();
 * ```
 */
export async function runEasyExplain(model: Model & ModelMetadata, options: EasyExplainOptions): Promise<EasyExplainResult> {
  if (options.outDir !== undefined) {
    throw new ExplainError('invalid_option', 'outDir writes files, which a browser cannot; draw result.figures[i].canvas or download them instead.');
  }
  return explainImage(webPlatform, model, options);
}
