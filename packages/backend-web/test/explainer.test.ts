// createExplainer's page-side logic in Node: a stand-in Web Worker runs serveExplainWorker in this thread (each
// message structured-cloned and delivered on a later task, as a real worker's would be), on the cpu backend with the
// Captum reference CNN. The scratch-app test (apps/demo/test/embed.test.ts) runs the real workers in Chromium.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { runMethod } from '@easy-explain/core';
import { createExplainer, defineEasyExplainView, loadModel, prepareInput, serveExplainWorker, setupBackend, type LoadedModel, type RgbImage } from '../src/index.js';

const REFERENCE = fileURLToPath(new URL('../../../../shared/reference/', import.meta.url));
const json = JSON.parse(readFileSync(join(REFERENCE, 'model/model.json'), 'utf8'));
const weights = new Uint8Array(readFileSync(join(REFERENCE, 'model/weights.bin'))).buffer;
const artifacts = () => ({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g: any) => g.weights), weightData: weights.slice(0) });

/** A 40×48 photo of seeded noise (the reference CNN takes 32×32; the preset resizes and crops it). */
function noisePhoto(): RgbImage {
  const data = new Uint8Array(40 * 48 * 3);
  let s = 7;
  for (let i = 0; i < data.length; i++) data[i] = (s = (s * 1103515245 + 12345) % 2147483648) >> 23;
  return { data, height: 40, width: 48 };
}

const started: string[] = [];
const terminated: string[] = [];

/** Stands in for the browser's Worker: the explanation worker runs here; the figure worker is never started here. */
class InThreadWorker {
  onmessage: ((e: MessageEvent) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  private alive = true;
  private readonly scope = {
    onmessage: null as ((e: MessageEvent) => void) | null,
    postMessage: (message: unknown, transfer: Transferable[] = []) => this.alive && this.deliver(this, message, transfer),
  };

  constructor(private readonly url: URL) {
    started.push(url.pathname.split('/').pop()!);
    if (!url.pathname.endsWith('/explain-worker.js')) throw new Error(`unexpected worker ${url}`);
    serveExplainWorker(this.scope);
  }

  postMessage(message: unknown, transfer: Transferable[] = []): void {
    if (this.alive) this.deliver(this.scope, message, transfer);
  }

  terminate(): void {
    this.alive = false;
    terminated.push(this.url.pathname.split('/').pop()!);
  }

  private deliver(to: { onmessage: ((e: MessageEvent) => void) | null }, message: unknown, transfer: Transferable[]): void {
    const copy = structuredClone(message, { transfer });
    setTimeout(() => to.onmessage?.({ data: copy } as MessageEvent));
  }
}

let reference: LoadedModel;
beforeAll(async () => {
  await setupBackend('cpu');
  reference = await loadModel(artifacts());
  (globalThis as { Worker?: unknown }).Worker = InThreadWorker;
});
afterAll(() => {
  delete (globalThis as { Worker?: unknown }).Worker;
  reference.dispose();
});
afterEach(() => {
  started.length = 0;
  terminated.length = 0;
});

// No figures: drawing needs OffscreenCanvas, which Node lacks (the scratch-app test checks them in Chromium).
const NO_FIGURES = { visTypes: [], visSigns: [] };

describe('createExplainer', () => {
  it("starts the package's explanation worker, whose source sits next to the module that names it", async () => {
    const explainer = createExplainer({ backend: 'cpu' });
    expect((await explainer.ready).backend).toBe('cpu');
    expect(started).toEqual(['explain-worker.js']);
    // `new URL('./explain-worker.js', import.meta.url)` in src/workers.ts: tsc turns src/explain-worker.ts into it.
    expect(existsSync(fileURLToPath(new URL('../src/explain-worker.ts', import.meta.url)))).toBe(true);
    explainer.dispose();
    expect(terminated).toEqual(['explain-worker.js']);
  });

  it('an explain called while the model loads waits for it, and equals core run on the same input', async () => {
    const explainer = createExplainer({ backend: 'cpu' });
    void explainer.loadModel(artifacts());
    const settings = { slidingWindowShapes: [8, 8] as [number, number], strides: 4 };
    const result = await explainer.explain(noisePhoto(), { methodOptions: settings, topK: 3, ...NO_FIGURES });
    const before = (await explainer.info()).numTensors;

    const { input, display } = await prepareInput(noisePhoto(), reference.preset ?? 'imagenet', reference.inputShape);
    const scores = tf.tidy(() => tf.softmax(reference.predict(input) as tf.Tensor2D).dataSync());
    const top = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a]);
    const { attribution } = await runMethod('occlusion', reference, input, { target: top[0] }, settings);
    const expected = (await attribution.data()) as Float32Array;
    tf.dispose([input, attribution]);

    expect(result.predictions.map((p) => p.index)).toEqual(top.slice(0, 3));
    expect(result.target).toBe(top[0]);
    expect(result.label).toBe(`class ${top[0]}`);
    expect(result.shape).toEqual([1, 32, 32, 3]);
    // Same backend, same thread, same windows: the same numbers.
    expect(Array.from(result.attribution)).toEqual(Array.from(expected));
    expect(expected.some((v) => v !== 0)).toBe(true);
    expect(result.photo).toEqual({ data: display.data, height: display.height, width: display.width, channels: 3 });
    expect(result.figures).toEqual([]);
    // A second call leaves the worker's tensors as they were.
    await explainer.explain(noisePhoto(), { methodOptions: settings, ...NO_FIGURES });
    expect((await explainer.info()).numTensors).toBe(before);
    explainer.dispose();
  });

  it('reports progress, cancels on abort (queued or running) and stays usable', async () => {
    const explainer = createExplainer({ backend: 'cpu' });
    await explainer.loadModel(artifacts());
    const stop = new AbortController();
    const progress: [number, number][] = [];
    const running = explainer.explain(noisePhoto(), {
      methodOptions: { slidingWindowShapes: [2, 2], strides: 1, perturbationsPerEval: 8 },
      ...NO_FIGURES,
      signal: stop.signal,
      onProgress: (done, total) => {
        progress.push([done, total]);
        stop.abort();
      },
    });
    const queued = explainer.explain(noisePhoto(), { ...NO_FIGURES, signal: stop.signal });
    expect(await running.catch((e) => e.code)).toBe('aborted');
    expect(await queued.catch((e) => e.code)).toBe('aborted');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0][0]).toBeLessThan(progress[0][1]); // stopped well before 31×31 windows were done
    const again = await explainer.explain(noisePhoto(), { methodOptions: { slidingWindowShapes: [16, 16], strides: 16 }, ...NO_FIGURES });
    expect(again.attribution.length).toBe(32 * 32 * 3);
    explainer.dispose();
  });

  it('rejects bad calls with typed errors', async () => {
    const explainer = createExplainer({ backend: 'cpu' });
    expect(await explainer.explain(noisePhoto(), NO_FIGURES).catch((e) => e.code)).toBe('invalid_model');
    await explainer.loadModel(artifacts());
    const mismatch = await explainer.explain(noisePhoto(), { visTypes: [['heat_map']], visSigns: [] }).catch((e) => e);
    expect(mismatch.code).toBe('invalid_option');
    expect(mismatch.message).toMatch(/visTypes and visSigns/);
    expect(await explainer.explain(noisePhoto(), { method: 'nope' as never, ...NO_FIGURES }).catch((e) => e.code)).toBe('invalid_option');
    expect(await explainer.explain(noisePhoto(), { methodOptions: { slidingWindowShapes: [64, 64] }, ...NO_FIGURES }).catch((e) => e.code)).toBe('window_too_large');
    explainer.dispose();
    expect(await explainer.loadModel(artifacts()).catch((e) => e.code)).toBe('aborted');

    const missing = createExplainer({ backend: 'no-such-backend' as never });
    expect(await missing.ready.catch((e) => e.code)).toBe('backend_unavailable');
    expect(await missing.loadModel(artifacts()).catch((e) => e.code)).toBe('backend_unavailable');
    missing.dispose();
  });

  it('says it needs a browser where there are no Web Workers or custom elements', () => {
    const saved = (globalThis as { Worker?: unknown }).Worker;
    delete (globalThis as { Worker?: unknown }).Worker;
    try {
      expect(() => createExplainer()).toThrow(expect.objectContaining({ code: 'backend_unavailable', message: expect.stringMatching(/browser/) }));
      expect(() => defineEasyExplainView()).toThrow(expect.objectContaining({ code: 'backend_unavailable', message: expect.stringMatching(/easy-explain-view.*browser/) }));
    } finally {
      (globalThis as { Worker?: unknown }).Worker = saved;
    }
  });
});
