// runEasyExplain in Node: the shared pipeline of @easy-explain/runtime, with images decoded by sharp, label files
// read from disk, figures encoded as PNG, and the output folder written.
import { access, constants, mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ExplainError, type Model } from '@easy-explain/core/internal';
import {
  explainCams,
  explainImage,
  type CamExplainRunOptions,
  type CamExplainRunResult,
  type EasyExplainOptions as SharedOptions,
  type EasyExplainResult as SharedResult,
  type ExplainPlatform,
  type Explanation,
  type ModelMetadata,
} from '@easy-explain/runtime';
import { ensureBackend } from './backend.js';
import { drawCurves, drawPanels, drawRow, type Figure } from './figures.js';
import { decodeImage, type ImageSource, type RgbImage } from './image.js';
import { versioned, writeAttributionNpy, type ExplanationFile } from './explanation-file.js';
import { loadLabels } from './labels.js';
import { VERSION } from './version.js';

/** runEasyExplain's options: the shared ones, with Node's image sources (path, URL, bytes, pixels). */
export type EasyExplainOptions = SharedOptions<ImageSource | RgbImage>;
/** runEasyExplain's result: figures carry their PNG bytes; explanation.json's versions and .npy file included. */
export type EasyExplainResult = Omit<SharedResult<Figure>, 'explanation'> & { explanation: ExplanationFile };
export type { Explanation };

function isRgb(image: unknown): image is RgbImage {
  const i = image as Partial<RgbImage>;
  return typeof i === 'object' && i !== null && i.data instanceof Uint8Array && typeof i.height === 'number' && typeof i.width === 'number';
}

const nodePlatform: ExplainPlatform<ImageSource | RgbImage, Figure> = {
  tool: `easy-explain-ts ${VERSION}`,
  ensureBackend,
  decodeImage: async (image, signal) => (isRgb(image) ? image : decodeImage(image, { signal: signal as AbortSignal | undefined })),
  describeImage(image) {
    if (typeof image === 'string') return /^[a-z][a-z0-9+.-]*:\/\//i.test(image) ? image : resolve(image);
    if (image instanceof URL) return image.href;
    return isRgb(image) ? 'pixels' : 'bytes';
  },
  readLabels: (where) => loadLabels(where),
  drawFigure: drawRow,
  drawPanels,
  drawCurves,
};

/**
 * Creates the output folder if needed and checks it can be written, so a bad `outDir` is refused before the
 * attribution runs rather than after it. An ExplainError `invalid_option` says what is wrong.
 */
export async function prepareOutDir(outDir: string): Promise<string> {
  const dir = resolve(outDir);
  const refuse = (problem: string, cause?: unknown) =>
    new ExplainError('invalid_option', `The output folder ${dir} ${problem}; choose another with --out (outDir).`, { cause });
  try {
    await mkdir(dir, { recursive: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const problem =
      code === 'EEXIST' ? 'is a file, not a folder' : code === 'ENOTDIR' ? 'lies under a file, not a folder' : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? `cannot be created (${code}: no permission)` : `cannot be created (${code ?? String(cause)})`;
    throw refuse(problem, cause);
  }
  if (!(await stat(dir)).isDirectory()) throw refuse('is a file, not a folder');
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (cause) {
    throw refuse(`cannot be written (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, cause);
  }
  return dir;
}

/**
 * easy-explain's one call: top-k predictions, the attribution of the target (default the top class) by Occlusion
 * with easy-explain's setting unless told otherwise, and one figure per row of visTypes/visSigns titled as
 * easy-explain titles them. With outDir (checked first), writes figure-N.png, attribution.npy and explanation.json. Leaves no tensor
 * behind except the returned attribution.
 *
 * @example
 * ```ts
 * await setupBackend('auto');
 * const model = await loadModel('mobilenet_v1_0.75_224/model.json', { preset: 'mobilenet' });
 * const result = await runEasyExplain(model, { image: 'cat.png', outDir: 'out', metrics: ['deletion', 'insertion'] });
 * console.log(result.predictions[0].label, result.files);
 * result.attribution.dispose();
 * ```
 */
export async function runEasyExplain(model: Model & ModelMetadata, options: EasyExplainOptions): Promise<EasyExplainResult> {
  const start = performance.now();
  const dir = options.outDir === undefined ? undefined : await prepareOutDir(options.outDir);
  const shared = await explainImage(nodePlatform, model, options);
  const result: EasyExplainResult = { ...shared, explanation: versioned(shared.explanation) };
  if (dir === undefined) {
    result.explanation.timings.totalMs = Math.round(performance.now() - start);
    return result;
  }
  try {
    const t0 = performance.now();
    const files: string[] = [];
    for (const [i, figure] of result.figures.entries()) {
      const file = join(dir, `figure-${i + 1}.png`);
      await writeFile(file, figure.png);
      result.explanation.figures[i].file = `figure-${i + 1}.png`;
      files.push(file);
    }
    if (result.metricFigure) {
      const file = join(dir, 'metrics.png');
      await writeFile(file, result.metricFigure.png);
      files.push(file);
    }
    const npy = await writeAttributionNpy(dir, result.attribution);
    result.explanation.attribution = npy.info;
    files.push(npy.path);
    result.explanation.timings.writeMs = Math.round(performance.now() - t0);
    result.explanation.timings.totalMs = Math.round(performance.now() - start);
    const json = join(dir, 'explanation.json');
    await writeFile(json, JSON.stringify(result.explanation, null, 2) + '\n');
    files.push(json);
    return { ...result, files };
  } catch (error) {
    result.attribution.dispose();
    throw error;
  }
}

/** runCamExplain's options: CAMExplain's, with Node's image sources and an output folder. */
export type CamExplainOptions = CamExplainRunOptions<ImageSource | RgbImage> & {
  /** Write cam-figure-1.png, … and cam-explanation.json into this folder (checked before any work). */
  outDir?: string;
};
export type CamExplainResult = CamExplainRunResult<Figure> & { files?: string[] };

/**
 * easy-explain's CAMExplain in one call: torchcam's SmoothGradCAM++ on the top class with its overlay, the LayerCAM
 * localisation mask, and the fused LayerCAM of `layers`, as easy-explain's figures; with outDir, written as
 * cam-figure-N.png and cam-explanation.json.
 *
 * @example
 * ```ts
 * const result = await runCamExplain(model, { image: 'cat.png', layers: ['conv_pw_11_relu', 'conv_pw_13_relu'], outDir: 'out' });
 * console.log(result.targetLabel, result.explanation.layer, result.files);
 * ```
 */
export async function runCamExplain(model: Model & ModelMetadata, options: CamExplainOptions): Promise<CamExplainResult> {
  const dir = options.outDir === undefined ? undefined : await prepareOutDir(options.outDir);
  const result = await explainCams(nodePlatform, model, options);
  if (dir === undefined) return result;
  const files: string[] = [];
  for (const [i, figure] of result.figures.entries()) {
    const file = join(dir, `cam-figure-${i + 1}.png`);
    await writeFile(file, figure.png);
    files.push(file);
  }
  const { explanation: e } = result;
  const shape = (m: { height: number; width: number }) => [m.height, m.width];
  const record = {
    tool: nodePlatform.tool,
    createdAt: new Date().toISOString(),
    model: { source: model.source ?? 'in-memory', format: model.format },
    predictions: result.predictions,
    target: { index: result.target, label: result.targetLabel },
    smoothGradCamPP: { layer: e.layer, shape: shape(e.smoothGradCamPP) },
    localisationMask: { layer: e.maskLayer, threshold: options.threshold ?? 0.5, shape: shape(e.localisationMask) },
    fused: e.fused && { layers: e.layers, shape: shape(e.fused) },
    figures: result.figures.map((f, i) => ({ file: `cam-figure-${i + 1}.png`, titles: f.titles, width: f.width, height: f.height })),
  };
  const json = join(dir, 'cam-explanation.json');
  await writeFile(json, JSON.stringify(record, null, 2) + '\n');
  files.push(json);
  return { ...result, files };
}
