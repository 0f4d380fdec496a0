import { ExplainError, type MethodName, type MethodOptions } from '@easy-explain/core';
import type { VisMethod, VisSign } from '@easy-explain/viz';
import type { WebBackendName } from './backend.js';
import { createExplainer, type Explainer, type ExplainerResult } from './explainer.js';
import type { ImageSource } from './image.js';
import type { PresetName } from './preset.js';

/** The tag `defineEasyExplainView()` registers. */
export const EASY_EXPLAIN_VIEW_TAG = 'easy-explain-view';

const TEMPLATE = `
<style>
  :host { display: inline-block; font: 14px system-ui, sans-serif; }
  [hidden] { display: none !important; }
  .status { min-height: 1.4em; }
  .error { color: #b00020; white-space: pre-wrap; }
  ol { margin: .4em 0; padding-left: 1.6em; }
  canvas { display: block; max-width: 100%; }
</style>
<div class="status" part="status"><progress part="progress" max="1" hidden></progress> <span part="status-text"></span></div>
<div class="error" part="error" role="alert" hidden></div>
<ol part="predictions"></ol>
<canvas part="figure" width="0" height="0"></canvas>
`;

// Defining the class must not fail where HTMLElement does not exist (Node, server rendering, workers): this module
// is part of the package's main entry.
const ElementBase: typeof HTMLElement = typeof HTMLElement === 'undefined' ? (class {} as typeof HTMLElement) : HTMLElement;

/**
 * `<easy-explain-view model="…/model.json" src="photo.jpg">`: predicts the photo's top-k classes and draws a heat map
 * of why the first one was chosen, with a progress bar and an error area, all in worker threads.
 *
 * Attributes: `model` (a model.json URL; default MobileNet v1), `src` (an image URL; or set the `image` property to a
 * File, Blob, <img>, canvas or ImageBitmap), `backend` ('auto', 'webgpu', 'webgl', 'wasm', 'cpu'), `preset`
 * (preprocessing, default the model's), `method` (default occlusion), `window` and `stride` (Occlusion), `steps`
 * (integrated gradients), `top-k` (default 5), `view` (default blended_heat_map) and `sign` (default all).
 * It reflects its progress in the `status` attribute (loading, explaining, done, error) and fires `explained`
 * (detail: the Explanation) and `explain-error` (detail: the error) events.
 */
export class EasyExplainView extends ElementBase {
  static readonly observedAttributes = ['model', 'src', 'backend', 'preset', 'method', 'window', 'stride', 'steps', 'top-k', 'view', 'sign'];

  /** The last explanation shown. */
  explanation?: ExplainerResult;
  private explainer?: Explainer;
  private loadedModel?: Promise<unknown>;
  private imageSource?: ImageSource;
  private job?: AbortController;
  private scheduled = false;
  private readonly root: ShadowRoot;

  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    this.root.innerHTML = TEMPLATE;
  }

  /** The image to explain (anything `explain` takes); setting it starts a run, as does the `src` attribute. */
  get image(): ImageSource | undefined {
    return this.imageSource ?? this.getAttribute('src') ?? undefined;
  }

  set image(value: ImageSource | undefined) {
    this.imageSource = value;
    this.schedule();
  }

  connectedCallback(): void {
    this.schedule();
  }

  disconnectedCallback(): void {
    this.job?.abort();
    this.explainer?.dispose();
    this.explainer = undefined;
    this.loadedModel = undefined;
  }

  attributeChangedCallback(name: string, before: string | null, after: string | null): void {
    if (before === after) return;
    if (name === 'backend') {
      this.explainer?.dispose();
      this.explainer = undefined;
    }
    if (name === 'backend' || name === 'model' || name === 'preset') this.loadedModel = undefined;
    if (name === 'src') this.imageSource = undefined;
    this.schedule();
  }

  /** Coalesces attribute changes made together (e.g. while parsing) into one run. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      if (this.isConnected) void this.run();
    });
  }

  private shadowPart<T extends Element>(name: string): T {
    return this.root.querySelector(`[part="${name}"]`) as T;
  }

  private setStatus(status: string, text: string, fraction?: number): void {
    this.setAttribute('status', status);
    this.shadowPart<HTMLSpanElement>('status-text').textContent = text;
    const bar = this.shadowPart<HTMLProgressElement>('progress');
    bar.hidden = status === 'done' || status === 'error' || status === 'idle';
    if (fraction === undefined) bar.removeAttribute('value'); // indeterminate
    else bar.value = fraction;
  }

  private showError(error: unknown): void {
    const e = error as { code?: string; message?: string };
    const box = this.shadowPart<HTMLDivElement>('error');
    box.textContent = e?.message ?? String(error);
    box.dataset.code = e?.code ?? 'error';
    box.hidden = false;
    this.setStatus('error', '');
    this.dispatchEvent(new CustomEvent('explain-error', { detail: error }));
  }

  /** The element's `window`, `stride` and `steps` attributes as the method table's options of `method`. */
  private methodOptions(method: MethodName): MethodOptions {
    const window = this.number('window');
    if (method === 'occlusion') return { slidingWindowShapes: window === undefined ? undefined : [window, window], strides: this.number('stride') };
    if (method === 'integrated_gradients') return { nSteps: this.number('steps') };
    return {};
  }

  private number(name: string): number | undefined {
    const value = this.getAttribute(name);
    return value === null || value.trim() === '' ? undefined : Number(value);
  }

  private async run(): Promise<void> {
    this.job?.abort();
    const job = new AbortController();
    this.job = job;
    const box = this.shadowPart<HTMLDivElement>('error');
    box.hidden = true;
    try {
      this.explainer ??= createExplainer({ backend: (this.getAttribute('backend') ?? 'auto') as 'auto' | WebBackendName });
      const explainer = this.explainer;
      if (!this.loadedModel) {
        this.setStatus('loading', 'Loading the model…');
        const preset = (this.getAttribute('preset') ?? undefined) as PresetName | undefined;
        const loading = explainer.loadModel(this.getAttribute('model') ?? undefined, { preset });
        this.loadedModel = loading;
        // A failed load is retried by the next change (a new image or model).
        loading.catch(() => this.loadedModel === loading && (this.loadedModel = undefined));
      }
      await this.loadedModel;
      const image = this.image;
      if (job.signal.aborted) return;
      if (image === undefined) return this.setStatus('idle', 'Model ready; give me an image.');
      this.setStatus('explaining', 'Explaining…', 0);
      const method = (this.getAttribute('method') ?? 'occlusion') as MethodName;
      const explanation = await explainer.explain(image, {
        method,
        methodOptions: this.methodOptions(method),
        topK: this.number('top-k'),
        visTypes: [[(this.getAttribute('view') ?? 'blended_heat_map') as VisMethod]],
        visSigns: [[(this.getAttribute('sign') ?? 'all') as VisSign]],
        signal: job.signal,
        onProgress: (done, total) => {
          if (this.job === job) this.setStatus('explaining', `Explaining… ${done} / ${total}`, done / total);
        },
      });
      if (this.job !== job) return;
      this.show(explanation);
      this.setStatus('done', `${explanation.label}: ${(explanation.ms / 1000).toFixed(1)} s on ${explanation.backend}`);
      this.dispatchEvent(new CustomEvent('explained', { detail: explanation }));
    } catch (error) {
      if (this.job === job && !job.signal.aborted) this.showError(error);
    }
  }

  private show(explanation: ExplainerResult): void {
    this.explanation = explanation;
    const list = this.shadowPart<HTMLOListElement>('predictions');
    list.replaceChildren(
      ...explanation.predictions.map((p) => {
        const li = document.createElement('li');
        li.dataset.index = String(p.index);
        li.textContent = `${p.label} — ${p.percentage.toFixed(1)}%`;
        return li;
      }),
    );
    const canvas = this.shadowPart<HTMLCanvasElement>('figure');
    const [figure] = explanation.figures;
    if (!figure) return;
    canvas.width = figure.width;
    canvas.height = figure.height;
    canvas.getContext('2d')!.drawImage(figure, 0, 0);
  }
}

/** Registers `<easy-explain-view>` (once; later calls do nothing). Or import '@easy-explain/backend-web/element'. */
export function defineEasyExplainView(tag = EASY_EXPLAIN_VIEW_TAG): void {
  if (typeof customElements === 'undefined') {
    throw new ExplainError('backend_unavailable', `<${tag}> needs a browser page with custom elements; this is not one (Node, a worker?).`);
  }
  if (!customElements.get(tag)) customElements.define(tag, tag === EASY_EXPLAIN_VIEW_TAG ? EasyExplainView : class extends EasyExplainView {});
}
