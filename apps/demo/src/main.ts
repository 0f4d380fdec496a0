import {
  DEFAULT_MODEL_URL,
  startExplainWorker,
  startFigureWorker,
  type BackendInfo,
  type ExplainResult,
  type ExplainWorkerClient,
  type ModelInfo,
  type RgbImage,
} from '@easy-explain/backend-web';
import { METHOD_NAMES, windowCount, type MethodName, type MethodOptions, type MetricName, type OcclusionMethodOptions, type Prediction } from '@easy-explain/core';
import { drawMetricCurve, predictionName, type HWC, type VisMethod, type VisSign } from '@easy-explain/viz';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);

/** Everything the page knows; exposed as window.easyExplainDemo for the end-to-end tests. */
const state = {
  backend: '' as string,
  info: undefined as BackendInfo | undefined,
  model: undefined as ModelInfo | undefined,
  labels: [] as string[],
  photo: undefined as RgbImage | undefined,
  predictions: [] as Prediction[],
  target: -1,
  result: undefined as ExplainResult | undefined,
  partial: undefined as Float32Array | undefined,
  partialChannels: undefined as number | undefined,
  running: false,
  progress: { done: 0, total: 0 },
  error: undefined as { code: string; message: string } | undefined,
};

// backend-web's own workers: TF.js, the model and the attribution in one (with occlusion helpers, one per core, on
// the CPU backends), figures drawn in another, so the page never freezes.
const client = startExplainWorker();
const figureWorker = startFigureWorker();
let job: AbortController | undefined;
/** Settles when the model being loaded is in place: a photo picked meanwhile waits for it. */
let modelLoading: Promise<void> = Promise.resolve();
let classifyCalls = 0;

function showError(error: unknown): void {
  const e = error as { code?: string; message?: string };
  state.error = { code: e?.code ?? 'error', message: e?.message ?? String(error) };
  const box = $('error');
  box.textContent = state.error.message;
  box.dataset.code = state.error.code;
  box.hidden = false;
}

function clearError(): void {
  state.error = undefined;
  $('error').hidden = true;
}

function labelOf(index: number): string {
  return state.labels[index] ?? `class ${index}`;
}

// ---------- backend and model ----------

async function startBackend(): Promise<void> {
  const wanted = params.get('backend') ?? 'auto';
  let info: BackendInfo;
  try {
    info = await client.setupBackend(wanted);
  } catch (e) {
    if (wanted === 'auto') throw e;
    showError(e);
    info = await client.setupBackend('auto');
  }
  state.info = info;
  state.backend = info.backend;
  $('backend').textContent = info.backend;
  const skipped = info.attempts.filter((a) => !a.ok);
  $('backend-note').textContent = skipped.length ? `(skipped ${skipped.map((a) => `${a.name}: ${a.reason}`).join('; ')})` : '';
  document.body.dataset.backend = info.backend;
}

function modelLoaded(info: ModelInfo, what: string): void {
  state.model = info;
  state.labels = info.labels ?? Array.from({ length: info.classes }, (_, i) => `class ${i}`);
  $('model-status').textContent = `${what}: ${info.format}, input ${info.inputShape?.join('×') ?? '?'}, ${info.classes} classes.`;
  document.body.dataset.model = 'ready';
  state.predictions = [];
  state.result = undefined;
  renderPredictions();
  if (state.photo) void classify(state.photo);
}

function loadDefaultModel(): Promise<void> {
  modelLoading = loadDefault();
  return modelLoading;
}

async function loadDefault(): Promise<void> {
  $('model-status').textContent = 'loading…';
  try {
    modelLoaded(await client.loadModel(params.get('model') ?? DEFAULT_MODEL_URL), 'MobileNet v1 0.75 loaded');
  } catch (e) {
    $('model-status').textContent = 'not loaded.';
    document.body.dataset.model = 'failed';
    showError(e);
  }
}

function loadOwnModel(): Promise<void> {
  modelLoading = loadOwn();
  return modelLoading;
}

async function loadOwn(): Promise<void> {
  const files = Array.from(($('model-files') as HTMLInputElement).files ?? []);
  const labelsFile = ($('labels-file') as HTMLInputElement).files?.[0];
  clearError();
  try {
    if (files.length === 0) throw Object.assign(new Error('Choose an .onnx file, or model.json and its weight shards, first.'), { code: 'invalid_model' });
    let labels: unknown;
    if (labelsFile) {
      try {
        labels = JSON.parse(await labelsFile.text());
      } catch {
        throw Object.assign(new Error(`"${labelsFile.name}" is not JSON; labels are an array of names or {"0": ["wnid", "name"]}.`), { code: 'invalid_labels' });
      }
    }
    const preset = ($('preset') as HTMLSelectElement).value as 'imagenet';
    $('model-status').textContent = 'loading your model…';
    modelLoaded(await client.loadModel(files, { labels, preset }), 'Your model loaded');
  } catch (e) {
    $('model-status').textContent = state.model ? 'The previous model is still in use.' : 'No model is loaded.';
    showError(e);
  }
}

// ---------- photo and predictions ----------

function putRgb(canvas: HTMLCanvasElement, image: RgbImage): void {
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext('2d')!;
  const rgba = ctx.createImageData(image.width, image.height);
  for (let p = 0, q = 0; q < image.data.length; p += 4, q += 3) {
    rgba.data[p] = image.data[q];
    rgba.data[p + 1] = image.data[q + 1];
    rgba.data[p + 2] = image.data[q + 2];
    rgba.data[p + 3] = 255;
  }
  ctx.putImageData(rgba, 0, 0);
}

async function classify(source: Parameters<ExplainWorkerClient['predict']>[0]): Promise<void> {
  const call = ++classifyCalls;
  clearError();
  if (!state.model) {
    // The model is still loading: predict this photo as soon as it is ready (the last photo picked wins).
    document.body.dataset.predictions = 'waiting';
    $('predictions').replaceChildren(Object.assign(document.createElement('li'), { textContent: 'Waiting for the model…' }));
    await modelLoading;
    if (call !== classifyCalls) return;
  }
  if (!state.model) return showError({ code: 'invalid_model', message: 'No model is loaded; load one first.' });
  try {
    const { predictions, display } = await client.predict(source, 5);
    state.photo = display;
    state.predictions = predictions;
    state.target = predictions[0].index;
    state.result = undefined;
    state.partial = undefined;
    putRgb($('photo'), display);
    renderPredictions();
    ($('run') as HTMLButtonElement).disabled = false;
    document.body.dataset.predictions = 'ready';
  } catch (e) {
    showError(e);
  }
}

function renderPredictions(): void {
  const list = $('predictions');
  list.replaceChildren(
    ...state.predictions.map((p) => {
      const li = document.createElement('li');
      li.dataset.index = String(p.index);
      li.className = p.index === state.target ? 'selected' : '';
      const name = document.createElement('span');
      name.className = 'label';
      name.textContent = `${labelOf(p.index)} — ${p.percentage.toFixed(1)}%`;
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.style.width = `${Math.max(1, p.percentage)}%`;
      li.append(name, bar);
      li.onclick = () => {
        state.target = p.index;
        renderPredictions();
        void explain();
      };
      return li;
    }),
  );
}

// ---------- explanation ----------

/** The form's fields as the method table's options (Captum's names) for the chosen method. */
function methodOptions(method: MethodName): MethodOptions {
  const num = (id: string) => Number(($(id) as HTMLInputElement).value);
  if (method === 'integrated_gradients') return { nSteps: num('steps'), baselines: num('baseline') };
  if (method !== 'occlusion') return {};
  const window = num('window');
  const stride = num('stride');
  const options: OcclusionMethodOptions = {
    slidingWindowShapes: [window, window],
    strides: stride,
    baselines: num('baseline'),
    // Occlusion on wasm/cpu: one worker per core (the explanation worker and its helpers); on a GPU, one.
    // ?workers=N overrides it (the browser bench compares 1 with 'auto').
    workers: Number(params.get('workers')) || 'auto',
  };
  const side = state.photo?.height ?? 224;
  if (window && stride && window <= side) {
    // Smaller batches make the live map fill in smoothly; the result does not depend on them.
    const windows = windowCount(side, window, stride) * windowCount(state.photo?.width ?? 224, window, stride);
    options.perturbationsPerEval = Math.max(1, Math.min(27, Math.ceil(windows / 4)));
  }
  return options;
}

function attributionHWC(data: Float32Array, shape: number[]): HWC {
  return { data, height: shape[1], width: shape[2], channels: shape[3] };
}

let rendering = false;
let renderAgain = false;

/** Draws the current attribution (final or partial) in the figure worker; coalesces requests while one is drawing. */
async function render(): Promise<void> {
  const data = state.result?.attribution ?? state.partial;
  if (!data || !state.photo) return;
  if (rendering) {
    renderAgain = true;
    return;
  }
  renderAgain = false;
  rendering = true;
  const final = state.result !== undefined;
  const method = ($('vis-method') as HTMLSelectElement).value as VisMethod;
  const sign = ($('vis-sign') as HTMLSelectElement).value as VisSign;
  const shape = state.result?.shape ?? [1, state.photo.height, state.photo.width, state.partialChannels ?? 3];
  try {
    const [bitmap] = await figureWorker.draw({
      attr: attributionHWC(data, shape),
      image: { ...state.photo, channels: 3 },
      rows: [[{ method, sign }, { method: 'original_image', sign: 'all' }]],
      label: predictionName(labelOf(state.target)),
    });
    const canvas = $('figure') as HTMLCanvasElement;
    if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) Object.assign(canvas, { width: bitmap.width, height: bitmap.height });
    canvas.getContext('2d')!.drawImage(bitmap, 0, 0);
    bitmap.close();
    canvas.dataset.drawn = final ? 'final' : 'partial';
    canvas.dataset.view = `${method}:${sign}`;
  } catch (e) {
    showError(e);
  } finally {
    rendering = false;
    if (renderAgain) void render();
  }
}

async function explain(): Promise<void> {
  if (!state.photo || state.target < 0) return;
  job?.abort();
  clearError();
  const controller = new AbortController();
  job = controller;
  const method = ($('method') as HTMLSelectElement).value as MethodName;
  state.running = true;
  state.result = undefined;
  state.partial = undefined;
  state.progress = { done: 0, total: 0 };
  document.body.dataset.run = 'running';
  ($('cancel') as HTMLButtonElement).disabled = false;
  ($('download-png') as HTMLButtonElement).disabled = true;
  ($('download-json') as HTMLButtonElement).disabled = true;
  const progress = $('progress') as HTMLProgressElement;
  progress.value = 0;
  $('progress-text').textContent = 'starting…';
  $('timing').textContent = '';
  try {
    const wantMetrics = ($('metrics') as HTMLInputElement).checked;
    $('metrics-panel').hidden = true;
    const result = await client.explain(method, state.target, methodOptions(method), {
      partial: true,
      // 32 steps keep deletion and insertion to 66 forward passes; the curves keep their shape.
      ...(wantMetrics ? { metrics: ['deletion', 'insertion'] as MetricName[], metricOptions: { steps: 32 } } : {}),
      signal: controller.signal,
      onProgress: (done, total, partial) => {
        if (job !== controller) return;
        state.progress = { done, total };
        progress.value = done / total;
        $('progress-text').textContent = `${done} / ${total}`;
        if (partial && !state.result) {
          state.partial = partial;
          state.partialChannels = partial.length / (state.photo!.height * state.photo!.width);
          void render();
        }
      },
    });
    if (job !== controller) return;
    state.result = result;
    progress.value = 1;
    $('progress-text').textContent = 'done';
    const workers = Number(result.parameters.workers ?? 1);
    $('timing').textContent = `${method} on ${result.backend}${workers > 1 ? ` in ${workers} workers` : ''}: ${(result.ms / 1000).toFixed(2)} s`;
    void render();
    if (result.metrics) drawCurves(result.metrics);
    ($('download-png') as HTMLButtonElement).disabled = false;
    ($('download-json') as HTMLButtonElement).disabled = false;
    document.body.dataset.run = 'done';
  } catch (e) {
    if (job !== controller) return;
    const cancelled = (e as { code?: string }).code === 'aborted';
    $('progress-text').textContent = cancelled ? 'cancelled' : 'failed';
    document.body.dataset.run = cancelled ? 'cancelled' : 'failed';
    if (!cancelled) showError(e);
  } finally {
    if (job === controller) {
      state.running = false;
      ($('cancel') as HTMLButtonElement).disabled = true;
    }
  }
}

/** Deletion and insertion curves beside the map (RISE's plots), with their AUCs. */
function drawCurves(metrics: NonNullable<ExplainResult['metrics']>): void {
  const curves = (['deletion', 'insertion'] as const).flatMap((name) => metrics[name]?.curves ?? []);
  const canvas = $('curves') as HTMLCanvasElement;
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  curves.forEach((curve, i) => drawMetricCurve(ctx, curve, { left: i * 360, top: 0, width: 360, height: 280 }));
  $('metrics-text').textContent = curves
    .map((c) => `${c.metric} AUC ${c.auc.toFixed(3)} (${c.metric === 'deletion' ? 'lower' : 'higher'} is more faithful)`)
    .join(' · ');
  $('metrics-panel').hidden = false;
  document.body.dataset.metrics = 'ready';
}

function download(name: string, blob: Blob): void {
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: name });
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// ---------- wiring ----------

function wire(): void {
  const methods = $('method') as HTMLSelectElement;
  methods.replaceChildren(...METHOD_NAMES.map((m) => Object.assign(document.createElement('option'), { value: m, textContent: m })));
  const showSettings = () => {
    const m = methods.value;
    document.querySelectorAll<HTMLElement>('.occlusion').forEach((el) => (el.hidden = m !== 'occlusion' && !(m === 'integrated_gradients' && el.classList.contains('ig'))));
    document.querySelectorAll<HTMLElement>('.ig:not(.occlusion)').forEach((el) => (el.hidden = m !== 'integrated_gradients'));
  };
  methods.onchange = showSettings;
  showSettings();

  const fileInput = $('image-file') as HTMLInputElement;
  fileInput.onchange = () => fileInput.files?.[0] && void classify(fileInput.files[0]);
  const drop = $('drop');
  drop.ondragover = (e) => {
    e.preventDefault();
    drop.classList.add('over');
  };
  drop.ondragleave = () => drop.classList.remove('over');
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) void classify(file);
  };
  document.addEventListener('paste', (e) => {
    const file = Array.from(e.clipboardData?.files ?? []).find((f) => f.type.startsWith('image/'));
    if (file) void classify(file);
  });
  ($('url-form') as HTMLFormElement).onsubmit = (e) => {
    e.preventDefault();
    const url = ($('image-url') as HTMLInputElement).value.trim();
    if (url) void classify(url);
  };
  $('load-model').onclick = () => void loadOwnModel();
  $('default-model').onclick = () => void loadDefaultModel();
  $('run').onclick = () => void explain();
  $('cancel').onclick = () => job?.abort();
  $('vis-method').onchange = () => void render();
  $('vis-sign').onchange = () => void render();
  $('download-png').onclick = () => ($('figure') as HTMLCanvasElement).toBlob((b) => b && download('easy-explain-figure.png', b), 'image/png');
  $('download-json').onclick = () => {
    const r = state.result;
    if (!r) return;
    const json = {
      target: { index: state.target, label: labelOf(state.target) },
      predictions: state.predictions,
      backend: r.backend,
      ms: r.ms,
      parameters: r.parameters,
      shape: r.shape,
      attribution: Array.from(r.attribution),
    };
    download('easy-explain-attribution.json', new Blob([JSON.stringify(json)], { type: 'application/json' }));
  };
}

const ready = (async () => {
  wire();
  try {
    await startBackend();
  } catch (e) {
    showError(e);
    return;
  }
  await loadDefaultModel();
  document.body.dataset.ready = 'true';
})();
modelLoading = ready;

Object.assign(window, { easyExplainDemo: { client, state, ready, explain, classify, render } });
