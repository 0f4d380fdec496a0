// End-to-end tests of the built demo (apps/demo/dist) in Debian's Chromium, driven by playwright-core.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import * as tf from '@tensorflow/tfjs-core';
import { runMethod } from '@easy-explain/core/internal';
import { loadImage, loadModel, prepareInput, setupBackend } from '@easy-explain/backend-node';
import { CHROMIUM_FLAGS, MODEL_URL_PREFIX, demoDir, distDir, launch, mobilenetDir, routeModel, serveDist, sharedDir } from '../bench/harness.mjs';

const outDir = join(demoDir, 'test-output');
const coffee = join(sharedDir, 'images/coffee.png');
// Coarse enough for software WebGPU: 3×3 windows of 112 px.
const COARSE = { window: 112, stride: 56 };

let server: { url: string; close(): Promise<void> };
let browser: Browser;

interface Opened {
  page: Page;
  context: BrowserContext;
  requests: { url: string; method: string; postData: string | null }[];
}

async function open(query = '', options: { browser?: Browser; failModel?: boolean } = {}): Promise<Opened> {
  const context = await (options.browser ?? browser).newContext();
  await routeModel(context, { fail: options.failModel });
  const requests: Opened['requests'] = [];
  context.on('request', (r) => requests.push({ url: r.url(), method: r.method(), postData: r.postData() }));
  const page = await context.newPage();
  await page.addInitScript(() => {
    const w = window as unknown as { longTasks: { start: number; duration: number }[] };
    w.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.longTasks.push({ start: e.startTime, duration: e.duration, name: JSON.stringify((e as any).attribution?.map((a: any) => [a.containerType, a.containerName, a.containerSrc])) } as never);
    }).observe({ type: 'longtask', buffered: true });
  });
  await page.goto(server.url + query);
  await page.waitForFunction(() => document.body.dataset.ready === 'true' || !document.getElementById('error')!.hidden, null, { timeout: 300_000 });
  return { page, context, requests };
}

const demo = <T>(page: Page, fn: string): Promise<T> => page.evaluate(`(() => { const d = window.easyExplainDemo; return ${fn}; })()`) as Promise<T>;

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(outDir, `${name}.png`), fullPage: true });
}

async function uploadCoffee(page: Page): Promise<{ index: number; label: string }[]> {
  await page.setInputFiles('#image-file', coffee);
  await page.waitForFunction(() => document.body.dataset.predictions === 'ready' || !document.getElementById('error')!.hidden, null, { timeout: 300_000 });
  return demo(page, 'd.state.predictions');
}

async function errorShown(page: Page): Promise<{ code: string; text: string }> {
  await page.waitForFunction(() => !document.getElementById('error')!.hidden, null, { timeout: 120_000 });
  return page.evaluate(() => {
    const box = document.getElementById('error')!;
    return { code: box.dataset.code ?? '', text: box.textContent ?? '' };
  });
}

/** Every request went to the demo's own server or the routed model URL, and none carried a body. */
function expectNothingUploaded(requests: Opened['requests']): void {
  expect(requests.length).toBeGreaterThan(0);
  for (const r of requests) {
    const local = r.url.startsWith(server.url) || r.url.startsWith(MODEL_URL_PREFIX) || /^(data|blob):/.test(r.url);
    expect(local, r.url).toBe(true);
    expect(r.method, r.url).toBe('GET');
    expect(r.postData, r.url).toBeNull();
  }
}

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  // The root `npm test` builds first; build here too when run on its own.
  if (!existsSync(join(distDir, 'index.html'))) execFileSync('npx', ['vite', 'build'], { cwd: demoDir, stdio: 'inherit' });
  server = await serveDist();
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('demo on webgpu', () => {
  it('runs on webgpu with every op on the GPU and shows espresso first for coffee.png', async () => {
    const { page, context, requests } = await open();
    expect(await demo(page, 'd.state.backend')).toBe('webgpu');
    expect(await demo(page, 'd.state.info.flags.WEBGPU_CPU_FORWARD')).toBe(false);
    const predictions = await uploadCoffee(page);
    expect(predictions[0].index).toBe(967);
    expect(predictions[0].label).toBe('espresso');
    expect(await page.textContent('#predictions li:first-child')).toContain('espresso');
    expect(await page.textContent('#privacy')).toMatch(/never leaves this browser/);
    await shot(page, 'webgpu-top5');
    expectNothingUploaded(requests);
    await context.close();
  });

  it('fills a live heat map for Occlusion that matches a Node run, without blocking the page', async () => {
    const { page, context, requests } = await open();
    await uploadCoffee(page);
    await page.fill('#window', String(COARSE.window));
    await page.fill('#stride', String(COARSE.stride));
    await page.evaluate(() => {
      const w = window as unknown as { partials: number; runStart: number };
      w.partials = 0;
      w.runStart = performance.now();
      new MutationObserver(() => {
        if (document.getElementById('figure')!.dataset.drawn === 'partial') w.partials++;
      }).observe(document.getElementById('figure')!, { attributes: true });
    });
    await page.click('#run');
    await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.run ?? ''), null, { timeout: 600_000 });
    expect(await demo(page, 'd.state.error')).toBeUndefined();
    const runEnd = await page.evaluate(() => performance.now());
    await shot(page, 'webgpu-occlusion');

    const result = await demo<{ attribution: Record<string, number>; shape: number[]; backend: string; ms: number }>(
      page,
      '({ ...d.state.result, attribution: Array.from(d.state.result.attribution) })',
    );
    expect(result.backend).toBe('webgpu');
    const browserMap = Float32Array.from(Object.values(result.attribution));
    expect(result.shape).toEqual([1, 224, 224, 3]);
    expect(browserMap.some((v) => v !== 0)).toBe(true);

    // The heat-map panel is not blank: it has coloured (non-grey) pixels.
    const coloured = await page.evaluate(() => {
      const c = document.getElementById('figure') as HTMLCanvasElement;
      const { data } = c.getContext('2d')!.getImageData(0, 0, c.width / 2, c.height);
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i] - data[i + 1]) > 20 || Math.abs(data[i + 1] - data[i + 2]) > 20) n++;
      return n;
    });
    expect(coloured).toBeGreaterThan(1000);
    expect(await page.evaluate(() => (window as unknown as { partials: number }).partials)).toBeGreaterThan(0);

    // Long tasks on the page during the run: none over 100 ms (TF.js runs in the worker).
    const runStart = await page.evaluate(() => (window as unknown as { runStart: number }).runStart);
    const longTasks = await page.evaluate(() => (window as unknown as { longTasks: { start: number; duration: number }[] }).longTasks);
    const during = longTasks.filter((t) => t.start >= runStart && t.start <= runEnd);
    const worst = Math.max(0, ...during.map((t) => t.duration));
    console.log(`webgpu occlusion ${COARSE.window}/${COARSE.stride}: ${(result.ms / 1000).toFixed(1)} s; longest main-thread task during the run ${worst} ms`, JSON.stringify(during));

    // The same input and settings in Node (backend-node, wasm).
    await setupBackend('wasm');
    const model = await loadModel(join(mobilenetDir, 'model.json'), { preset: 'mobilenet' });
    const image = await loadImage(coffee);
    const { input } = await prepareInput(image, 'mobilenet', model.inputShape);
    const { attribution } = await runMethod('occlusion', model, input, { target: 967 }, { slidingWindowShapes: [COARSE.window, COARSE.window], strides: COARSE.stride });
    const nodeMap = (await attribution.data()) as Float32Array;
    tf.dispose([image, input, attribution]);
    model.dispose();
    let maxAbs = 0;
    let maxDiff = 0;
    for (let i = 0; i < nodeMap.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(nodeMap[i]));
      maxDiff = Math.max(maxDiff, Math.abs(nodeMap[i] - browserMap[i]));
    }
    console.log(`webgpu vs Node (wasm) occlusion: max |diff| ${maxDiff.toExponential(3)}, relative ${(maxDiff / maxAbs).toExponential(3)}`);
    expect(maxDiff).toBeLessThanOrEqual(1e-3 * maxAbs);
    expect(worst).toBeLessThanOrEqual(100);

    // View and sign switch instantly from the stored attribution: no new run.
    for (const [method, sign] of [['heat_map', 'positive'], ['masked_image', 'absolute_value'], ['alpha_scaling', 'positive']]) {
      await page.selectOption('#vis-method', method);
      await page.selectOption('#vis-sign', sign);
      await page.waitForFunction((v) => document.getElementById('figure')!.dataset.view === v, `${method}:${sign}`, { timeout: 10_000 });
      expect(await page.evaluate(() => document.getElementById('figure')!.dataset.drawn)).toBe('final');
    }
    expect(await demo<number>(page, 'd.state.result.ms')).toBe(result.ms);
    expect(await page.isHidden('#error')).toBe(true);
    await shot(page, 'webgpu-switch-view');
    expectNothingUploaded(requests);
    await context.close();
  });

  it('passes every Occlusion case of the Captum reference on webgpu inside the page', async () => {
    const { page, context } = await open();
    const ref = join(sharedDir, 'reference');
    const modelJson = JSON.parse(readFileSync(join(ref, 'model/model.json'), 'utf8'));
    const weights = Array.from(readFileSync(join(ref, 'model/weights.bin')));
    const inputs = JSON.parse(readFileSync(join(ref, 'inputs.json'), 'utf8')).inputs as { name: string; image: unknown[] }[];
    const cases = (JSON.parse(readFileSync(join(ref, 'occlusion.json'), 'utf8')).cases as Record<string, unknown>[]).map((c) => ({
      ...c,
      // Cases name their input; flatten here, where the reference lives.
      input: (inputs.find((i) => i.name === c.input)!.image as unknown[]).flat(Infinity) as number[],
      attribution: (c.attribution as unknown[]).flat(Infinity) as number[],
    }));
    const results = await page.evaluate(
      async ({ modelJson, weights, cases }) => {
        const d = (window as any).easyExplainDemo;
        await d.client.loadModel({
          modelTopology: modelJson.modelTopology,
          weightSpecs: modelJson.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights),
          weightData: Uint8Array.from(weights).buffer,
          format: modelJson.format,
        });
        const out = [];
        for (const c of cases) {
          const p = c.params.nhwc_equivalent;
          const r = await d.client.attribute(Float32Array.from(c.input), c.shape, c.target, {
            slidingWindowShapes: p.sliding_window_shapes,
            strides: p.strides,
            baselines: p.baselines,
          });
          const expected = c.attribution as number[];
          let maxDiff = 0;
          for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(expected[i] - r.attribution[i]));
          out.push({ id: c.id, maxDiff, maxAbs: c.max_abs, backend: r.backend });
        }
        return out;
      },
      { modelJson, weights, cases },
    );
    expect(results).toHaveLength(cases.length); // 5 settings × 2 targets
    for (const r of results) {
      console.log(`reference ${r.id} on ${r.backend}: max |diff| ${r.maxDiff.toExponential(2)} (atol ${(1e-4 * Math.max(r.maxAbs, 1e-6)).toExponential(2)})`);
      expect(r.backend).toBe('webgpu');
      expect(r.maxDiff, r.id).toBeLessThanOrEqual(1e-4 * Math.max(r.maxAbs, 1e-6));
    }
    await shot(page, 'webgpu-reference');
    await context.close();
  });
});

describe('fallbacks', () => {
  for (const backend of ['webgl', 'wasm']) {
    it(`runs on ${backend} when asked (?backend=${backend})`, async () => {
      const { page, context } = await open(`?backend=${backend}`);
      expect(await demo(page, 'd.state.backend')).toBe(backend);
      expect((await uploadCoffee(page))[0].label).toBe('espresso');
      await page.fill('#window', '224');
      await page.fill('#stride', '224');
      await page.click('#run');
      await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.run ?? ''), null, { timeout: 600_000 });
      expect(await demo(page, 'd.state.result.backend')).toBe(backend);
      await shot(page, `fallback-${backend}`);
      await context.close();
    });
  }

  it('auto falls back to webgl without WebGPU, and to wasm without WebGPU and WebGL', async () => {
    const noGpu = CHROMIUM_FLAGS.filter((f) => f !== '--enable-unsafe-webgpu');
    for (const [flags, expected] of [
      [noGpu, 'webgl'],
      [[...noGpu, '--use-gl=disabled'], 'wasm'],
    ] as const) {
      const other = await launch([...flags]);
      try {
        const { page } = await open('', { browser: other });
        expect(await demo(page, 'd.state.backend')).toBe(expected);
        const attempts = await demo<{ name: string; ok: boolean }[]>(page, 'd.state.info.attempts');
        expect(attempts.find((a) => a.name === 'webgpu')?.ok).toBe(false);
        expect((await uploadCoffee(page))[0].label).toBe('espresso');
        await shot(page, `auto-${expected}`);
      } finally {
        await other.close();
      }
    }
  });
});

describe('worker', () => {
  it('cancels a long run between batches and stays usable', async () => {
    const { page, context } = await open('?backend=wasm');
    await uploadCoffee(page);
    await page.fill('#window', '16');
    await page.fill('#stride', '8');
    await page.click('#run');
    await page.waitForFunction(() => (window as any).easyExplainDemo.state.progress.done > 0, null, { timeout: 600_000 });
    await page.click('#cancel');
    await page.waitForFunction(() => document.body.dataset.run === 'cancelled', null, { timeout: 600_000 });
    const { done, total } = await demo<{ done: number; total: number }>(page, 'd.state.progress');
    expect(done).toBeLessThan(total);
    expect(await page.textContent('#progress-text')).toBe('cancelled');
    expect(await page.isHidden('#error')).toBe(true);
    await shot(page, 'wasm-cancelled');
    await context.close();
  });
});

describe('occlusion helper workers', () => {
  it('spreads Occlusion on wasm over one worker per core, equal bit for bit to one worker', async () => {
    const { page, context, requests } = await open('?backend=wasm');
    await uploadCoffee(page);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    const expected = Math.min(cores, 4);
    // The demo asks for 'auto': one worker per core on wasm.
    await page.fill('#window', '112');
    await page.fill('#stride', '56');
    await page.click('#run');
    await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.run ?? ''), null, { timeout: 600_000 });
    expect(await demo(page, 'd.state.result.parameters.workers')).toBe(expected);
    if (expected > 1) expect(await page.textContent('#timing')).toContain(`in ${expected} workers`);
    // Raw maps on a seeded input: 1, 2, 3 workers and 'auto', with and without incremental inference.
    const runs = await page.evaluate(async () => {
      const d = (window as any).easyExplainDemo;
      const n = 224 * 224 * 3;
      const input = new Float32Array(n);
      let s = 12345;
      for (let i = 0; i < n; i++) input[i] = ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
      const before = (await d.client.info()).numTensors;
      const out: { workers: unknown; incremental: boolean; used: number; map: number[] }[] = [];
      for (const incremental of [true, false]) {
        for (const workers of [1, 2, 3, 'auto']) {
          const r = await d.client.attribute(input, [1, 224, 224, 3], 967, {
            slidingWindowShapes: [64, 64, 3],
            strides: [40, 40, 3],
            perturbationsPerEval: 4,
            workers,
            incremental,
          });
          out.push({ workers, incremental, used: r.parameters.workers, map: Array.from(r.attribution) });
        }
      }
      const info = await d.client.info();
      return { out, leaked: info.numTensors - before, helpers: info.helpers };
    });
    expect(runs.leaked).toBe(0);
    expect(runs.helpers).toBe(Math.max(3, expected) - 1); // the pool keeps the most it was asked for
    for (const r of runs.out) {
      expect(r.used, `workers ${r.workers}`).toBe(r.workers === 'auto' ? expected : r.workers);
      const single = runs.out.find((o) => o.workers === 1 && o.incremental === r.incremental)!;
      expect(r.map, `workers ${r.workers}, incremental ${r.incremental}`).toEqual(single.map);
    }
    // Incremental and full recomputation agree (exact up to rounding).
    const [inc, full] = [true, false].map((i) => runs.out.find((o) => o.workers === 1 && o.incremental === i)!.map);
    const scale = full.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const worst = inc.reduce((m, v, i) => Math.max(m, Math.abs(v - full[i])), 0);
    expect(scale).toBeGreaterThan(0);
    expect(worst).toBeLessThan(1e-4 * scale);
    // Helpers got the model from the explanation worker: it was downloaded once.
    expect(requests.filter((r) => r.url.endsWith('model.json'))).toHaveLength(1);
    // A new model ends the helpers.
    const after = await page.evaluate(async (url) => {
      const d = (window as any).easyExplainDemo;
      await d.client.loadModel(url);
      return d.client.info();
    }, `${MODEL_URL_PREFIX}model.json`);
    // The old pool (grown to 2 helpers for 3 workers) ended; the new model starts the helpers 'auto' uses.
    expect(after.helpers).toBe(expected - 1);
    await shot(page, 'wasm-helpers');
    await context.close();
  });
});

describe('photo before the model', () => {
  it('predicts a photo picked while the model is still downloading as soon as the model is ready', async () => {
    let release!: () => void;
    const gate = new Promise<void>((ok) => (release = ok));
    const context = await browser.newContext();
    await routeModel(context, { gate });
    const page = await context.newPage();
    await page.goto(`${server.url}?backend=wasm`);
    await page.waitForFunction(() => document.body.dataset.backend === 'wasm', null, { timeout: 120_000 });
    await page.setInputFiles('#image-file', coffee);
    await page.waitForFunction(() => document.body.dataset.predictions === 'waiting', null, { timeout: 60_000 });
    expect(await demo(page, 'd.state.model')).toBeUndefined();
    expect(await page.isHidden('#error')).toBe(true);
    expect(await page.textContent('#predictions')).toMatch(/Waiting for the model/);
    release();
    await page.waitForFunction(() => document.body.dataset.predictions === 'ready' || !document.getElementById('error')!.hidden, null, { timeout: 300_000 });
    expect(await page.isHidden('#error')).toBe(true);
    expect((await demo<{ index: number }[]>(page, 'd.state.predictions'))[0].index).toBe(967);
    expect(await page.textContent('#predictions li:first-child')).toContain('espresso');
    await shot(page, 'photo-before-model');
    await context.close();
  });
});

describe('faithfulness in the demo', () => {
  it('draws deletion and insertion curves beside the map, with the AUCs the worker computed', async () => {
    const { page, context } = await open('?backend=wasm');
    await uploadCoffee(page);
    await page.selectOption('#method', 'grad_cam');
    await page.check('#metrics');
    await page.click('#run');
    await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.run ?? ''), null, { timeout: 600_000 });
    expect(await demo(page, 'd.state.error')).toBeUndefined();
    const metrics = await demo<Record<string, { values: number[]; curves: { x: number[]; y: number[]; auc: number }[] }>>(page, 'd.state.result.metrics');
    for (const name of ['deletion', 'insertion']) {
      const [auc] = metrics[name].values;
      expect(auc).toBeGreaterThan(0);
      expect(auc).toBeLessThan(1);
      expect(metrics[name].curves[0].x).toHaveLength(33);
      expect(metrics[name].curves[0].auc).toBe(auc);
    }
    // Grad-CAM ranks the cup first: deleting it loses espresso sooner than inserting it brings espresso back.
    expect(metrics.deletion.values[0]).toBeLessThan(metrics.insertion.values[0]);
    expect(await page.evaluate(() => document.body.dataset.metrics)).toBe('ready');
    expect(await page.textContent('#metrics-text')).toMatch(/deletion AUC 0\.\d{3}.*insertion AUC 0\.\d{3}/);
    // The curves are drawn: the shaded area under them is not the white background.
    const coloured = await page.evaluate(() => {
      const c = document.getElementById('curves') as HTMLCanvasElement;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] < 200 || data[i + 1] < 200) n++;
      return n;
    });
    expect(coloured).toBeGreaterThan(2000);
    await shot(page, 'faithfulness-curves');
    await context.close();
  });
});

describe('a PyTorch model (ONNX)', () => {
  it('loads resnet18.onnx through the file picker and explains it with Grad-CAM on webgpu; predictions match Node', async () => {
    const resnet18 = join(sharedDir, 'models/onnx/resnet18.onnx');
    const { page, context } = await open();
    expect(await page.evaluate(() => document.body.dataset.backend)).toBe('webgpu');
    await page.click('summary');
    await page.selectOption('#preset', 'imagenet');
    await page.setInputFiles('#model-files', resnet18);
    await page.click('#load-model');
    // The default model is loaded already: wait for the status of this one.
    await page.waitForFunction(() => /Your model loaded/.test(document.getElementById('model-status')!.textContent ?? '') || !document.getElementById('error')!.hidden, null, {
      timeout: 300_000,
    });
    expect(await page.isHidden('#error')).toBe(true);
    expect(await page.textContent('#model-status')).toMatch(/onnx.*1000 classes/);
    const predictions = await uploadCoffee(page);

    // The same file and photo in Node (wasm): the same top-5 classes.
    await setupBackend('wasm');
    const model = await loadModel(resnet18, { preset: 'imagenet' });
    const image = await loadImage(coffee);
    const { input } = await prepareInput(image, 'imagenet', model.inputShape);
    const scores = tf.tidy(() => tf.softmax(model.predict(input)));
    const probabilities = Array.from(await scores.data());
    tf.dispose([image, input, scores]);
    model.dispose();
    // webgpu and wasm round differently (float32): each browser probability is Node's within 1e-4, and the browser's
    // top class is Node's top class up to such a tie.
    expect(predictions).toHaveLength(5);
    for (const p of predictions) expect(Math.abs(p.probability - probabilities[p.index])).toBeLessThan(1e-4);
    expect(predictions[0].probability).toBeGreaterThan(Math.max(...probabilities) - 1e-4);

    await page.selectOption('#method', 'grad_cam');
    await page.click('#run');
    await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.run ?? ''), null, { timeout: 600_000 });
    expect(await demo(page, 'd.state.error')).toBeUndefined();
    const result = await demo<{ backend: string; shape: number[]; parameters: { layer: string }; spread: number }>(
      page,
      '({ ...d.state.result, attribution: undefined, spread: d.state.result.attribution.reduce((m, v) => Math.max(m, v), -Infinity) - d.state.result.attribution.reduce((m, v) => Math.min(m, v), Infinity) })',
    );
    expect(result.backend).toBe('webgpu');
    expect(result.shape).toEqual([1, 224, 224, 3]);
    expect(result.parameters.layer).toBe('layer4/layer4.1/relu_1/Relu_output_0');
    expect(result.spread).toBeGreaterThan(0);
    await shot(page, 'onnx-resnet18-grad-cam');
    await context.close();
  });
});

describe('bad input', () => {
  it('says so for a non-image file, and stays usable', async () => {
    const { page, context } = await open('?backend=wasm');
    await page.setInputFiles('#image-file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') });
    const error = await errorShown(page);
    expect(error.code).toBe('image_invalid');
    expect(error.text).toMatch(/notes\.txt.*not an image/);
    await shot(page, 'bad-non-image');
    expect((await uploadCoffee(page))[0].label).toBe('espresso');
    expect(await page.isHidden('#error')).toBe(true);
    await context.close();
  });

  it('says which shards are missing when model.json comes alone', async () => {
    const { page, context } = await open('?backend=wasm');
    await page.click('summary');
    await page.setInputFiles('#model-files', join(mobilenetDir, 'model.json'));
    await page.click('#load-model');
    const error = await errorShown(page);
    expect(error.code).toBe('model_not_found');
    expect(error.text).toMatch(/group1-shard1of1/);
    await shot(page, 'bad-missing-shards');
    expect((await uploadCoffee(page))[0].label).toBe('espresso'); // the default model is still there
    await context.close();
  });

  it('refuses a model whose input is not an image', async () => {
    const { page, context } = await open('?backend=wasm');
    // A one-layer Dense model on vectors of 10 numbers.
    const modelJson = {
      format: 'layers-model',
      modelTopology: {
        class_name: 'Sequential',
        config: { name: 'dense_only', layers: [{ class_name: 'Dense', config: { name: 'dense', units: 3, activation: 'linear', use_bias: true, batch_input_shape: [null, 10], dtype: 'float32' } }] },
        keras_version: '2.1.4',
        backend: 'tensorflow',
      },
      weightsManifest: [{ paths: ['dense.bin'], weights: [{ name: 'dense/kernel', shape: [10, 3], dtype: 'float32' }, { name: 'dense/bias', shape: [3], dtype: 'float32' }] }],
    };
    await page.click('summary');
    await page.setInputFiles('#model-files', [
      { name: 'model.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(modelJson)) },
      { name: 'dense.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(33 * 4) },
    ]);
    await page.click('#load-model');
    const error = await errorShown(page);
    expect(error.code).toBe('invalid_model');
    expect(error.text).toMatch(/not an image/);
    await shot(page, 'bad-not-image-model');
    await context.close();
  });

  it('reports a failed model download and stays usable', async () => {
    const { page, context } = await open('?backend=wasm', { failModel: true });
    const error = await errorShown(page);
    expect(error.code).toBe('model_not_found');
    expect(error.text).toMatch(/Cannot (fetch|download) the model file/);
    expect(await page.textContent('#model-status')).toMatch(/not loaded/);
    await shot(page, 'bad-model-download');
    // Loading a model from files still works.
    const files = readdirModel();
    await page.click('summary');
    await page.selectOption('#preset', 'mobilenet');
    await page.setInputFiles('#model-files', files);
    await page.click('#load-model');
    await page.waitForFunction(() => document.body.dataset.model === 'ready', null, { timeout: 300_000 });
    expect((await uploadCoffee(page))[0].label).toBe('espresso');
    await context.close();
  });
});

function readdirModel(): string[] {
  const manifest = JSON.parse(readFileSync(join(mobilenetDir, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
  return [join(mobilenetDir, 'model.json'), ...manifest.weightsManifest.flatMap((g) => g.paths.map((p) => join(mobilenetDir, p)))];
}
