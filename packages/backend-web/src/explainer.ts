import { ExplainError, type MethodName, type MethodOptions, type Prediction } from '@easy-explain/core';
import { predictionName, type VisMethod, type VisSign } from '@easy-explain/viz';
import type { SetupBackendOptions, WebBackendName } from './backend.js';
import type { ExplainWorkerClient } from './client.js';
import type { FigureRenderer } from './figures.js';
import type { ImageSource, RgbImage } from './image.js';
import { DEFAULT_MODEL_URL } from './default-model.js';
import type { LoadModelOptions } from './model.js';
import type { BackendInfo, ModelInfo } from './protocol.js';
import { startExplainWorker, startFigureWorker } from './workers.js';

export interface ExplainerOptions extends Omit<SetupBackendOptions, 'wasmPaths'> {
  /** The TF.js backend: 'auto' (default) tries webgpu, webgl, wasm, then cpu. */
  backend?: 'auto' | WebBackendName;
  /**
   * Where the wasm binaries are. Default: the files of @tensorflow/tfjs-backend-wasm, which bundlers copy into the
   * build; pass a URL prefix or a map when they are served elsewhere (e.g. a page that loads this package unbundled).
   */
  wasmPaths?: SetupBackendOptions['wasmPaths'];
}

export interface ExplainOptions {
  /** Attribution method; default 'occlusion' (window 45, stride 9, as easy-explain). */
  method?: MethodName;
  /** The method's options in Captum's names, defaults as core's method table (e.g. Occlusion on every core). */
  methodOptions?: MethodOptions;
  /** Class to explain; default the top prediction. */
  target?: number;
  /** Predictions returned; default 5. */
  topK?: number;
  /** One figure per row, as easy-explain's `vis_types`; default [['blended_heat_map', 'original_image']]. */
  visTypes?: VisMethod[][];
  /** The sign of each panel, same rows as visTypes; default 'all' everywhere. */
  visSigns?: VisSign[][];
  /** Called after each batch of the attribution; with `partial: true`, Occlusion also gives the map so far (after its coarse grid, then at most every 100 ms). */
  onProgress?: (done: number, total: number, partial?: Float32Array) => void;
  /** Occlusion: run a coarse grid of windows first and report partial maps (the final map is the same). */
  partial?: boolean;
  /** Cancels a queued or running call; it rejects with ExplainError `aborted`. */
  signal?: AbortSignal;
}

export interface ExplainerResult {
  /** Top-k classes, most likely first. */
  predictions: Prediction[];
  /** The class explained, and its name. */
  target: number;
  label: string;
  /** The attribution, NHWC float32 of `shape` ([1, H, W, C] of the model's input). */
  attribution: Float32Array;
  shape: number[];
  /** The photo as the model saw it (resized, cropped), RGB bytes. */
  photo: RgbImage;
  /** The settings the method used (e.g. Occlusion's windows and worker count). */
  parameters: Record<string, unknown>;
  backend: string;
  /** Wall time of the attribution in the worker, in ms. */
  ms: number;
  /** One figure per row of visTypes, drawn by viz in a worker; draw with `ctx.drawImage(figure, 0, 0)`. */
  figures: ImageBitmap[];
}

/** A model.json URL, the model.json and shards a user picked, or in-memory artifacts (JSON plus weight bytes). */
export type ExplainerModelSource = Parameters<ExplainWorkerClient['loadModel']>[0];

export interface Explainer {
  /** Resolves when the backend runs (what was tried is in `attempts`); rejects with `backend_unavailable`. */
  readonly ready: Promise<BackendInfo>;
  /**
   * Loads a model in the worker: a model.json URL (default: MobileNet v1 0.75 from Google's public URL), the
   * model.json and shards a user picked (read locally; nothing is uploaded), or artifacts in memory. Calls run in
   * order, so an `explain` started while a model loads waits for it.
   */
  loadModel(source?: ExplainerModelSource, options?: Omit<LoadModelOptions, 'onProgress'>): Promise<ModelInfo>;
  /** Top-k predictions, one attribution and its figures for an image (URL, File, <img>, canvas, ImageBitmap, …). */
  explain(image: ImageSource, options?: ExplainOptions): Promise<ExplainerResult>;
  /** Backend, live tensors and helper workers in the explanation worker. */
  info(): Promise<BackendInfo>;
  /** Ends the workers; calls in flight reject with `aborted`. */
  dispose(): void;
}

function aborted(): ExplainError {
  return new ExplainError('aborted', 'Cancelled by its AbortSignal; call explain again for a result.');
}

/** Rejects as soon as `signal` fires, whatever `work` is doing (work that has not started checks it first). */
function abortable<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      if (signal.aborted) reject(aborted());
      signal.addEventListener('abort', () => reject(aborted()), { once: true });
    }),
  ]);
}

/**
 * easy-explain in a web page in one call: starts this package's explanation worker (TF.js, the model, occlusion
 * helpers) and figure worker, so the page's main thread never runs TF.js and the app writes no worker files and no
 * wasm path map.
 *
 * ```ts
 * const explainer = createExplainer();
 * await explainer.loadModel();                                   // MobileNet v1, or a model.json URL, or picked files
 * const { predictions, figures } = await explainer.explain(file, { methodOptions: { slidingWindowShapes: [45, 45], strides: 9 }, onProgress });
 * canvas.getContext('2d').drawImage(figures[0], 0, 0);
 * ```
 */
export function createExplainer(options: ExplainerOptions = {}): Explainer {
  const { backend = 'auto', ...setup } = options;
  const client: ExplainWorkerClient = startExplainWorker();
  let renderer: FigureRenderer | undefined;
  let model: ModelInfo | undefined;
  let disposed = false;
  const ready = client.setupBackend(backend, setup);
  ready.catch(() => {}); // reported by every call that needs the backend
  // One call at a time: the worker keeps one current image, so explain calls must not interleave.
  let queue: Promise<unknown> = ready;

  function enqueue<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (disposed) return Promise.reject(new ExplainError('aborted', 'This explainer was disposed; create a new one.'));
    const run = queue.catch(() => {}).then(async () => {
      if (signal?.aborted) throw aborted();
      await ready;
      return task();
    });
    queue = run.catch(() => {});
    return abortable(run, signal);
  }

  async function explainNow(image: ImageSource, o: ExplainOptions): Promise<ExplainerResult> {
    if (!model) {
      throw new ExplainError('invalid_model', `No model is loaded: call loadModel() first (no argument loads MobileNet v1 from ${DEFAULT_MODEL_URL}).`);
    }
    const { method = 'occlusion', methodOptions = {}, target: wanted, topK = 5, visTypes, visSigns, onProgress, partial = false, signal } = o;
    const rows = visTypes ?? [['blended_heat_map', 'original_image']];
    const signs = visSigns ?? rows.map((row) => row.map((): VisSign => 'all'));
    if (signs.length !== rows.length || rows.some((row, i) => row.length !== signs[i].length)) {
      throw new ExplainError('invalid_option', 'visTypes and visSigns must have the same rows of the same lengths.');
    }
    const { predictions, display } = await client.predict(image, topK);
    if (signal?.aborted) throw aborted();
    const target = wanted ?? predictions[0].index;
    const result = await client.explain(method, target, methodOptions, { onProgress, signal, partial });
    const label = model.labels?.[target] ?? predictions.find((p) => p.index === target)?.label ?? `class ${target}`;
    let figures: ImageBitmap[] = [];
    if (rows.length > 0) {
      renderer ??= startFigureWorker();
      const [, height, width, channels] = result.shape;
      figures = await renderer.draw({
        attr: { data: result.attribution, height, width, channels },
        image: { ...display, channels: 3 },
        rows: rows.map((row, r) => row.map((m, i) => ({ method: m, sign: signs[r][i] }))),
        label: predictionName(label),
      });
    }
    return {
      predictions,
      target,
      label,
      attribution: result.attribution,
      shape: result.shape,
      photo: display,
      parameters: result.parameters,
      backend: result.backend,
      ms: result.ms,
      figures,
    };
  }

  return {
    ready,
    loadModel(source = DEFAULT_MODEL_URL, loadOptions = {}) {
      return enqueue(async () => {
        const info = await client.loadModel(source, loadOptions as Parameters<ExplainWorkerClient['loadModel']>[1]);
        model = info;
        return info;
      });
    },
    explain(image, explainOptions = {}) {
      return enqueue(() => explainNow(image, explainOptions), explainOptions.signal);
    },
    info: () => client.info(),
    dispose() {
      if (disposed) return;
      disposed = true;
      client.terminate();
      renderer?.terminate();
    },
  };
}
