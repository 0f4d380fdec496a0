#!/usr/bin/env node
// Occlusion on MobileNet in one Chromium: wasm vs webgpu vs webgl at a coarse setting, then wasm at easy-explain's
// setting in one worker and in one worker per core ('auto': the explanation worker plus helpers).
// Needs the built demo (npm run build -w apps/demo). Prints a table and, last, one JSON line for scripts.
// Software WebGPU/WebGL (SwiftShader) is for correctness here; on a real GPU the order changes.
// BENCH_BACKENDS=wasm,webgpu,webgl and BENCH_WINDOW/BENCH_STRIDE set the coarse rows; BENCH_EXACT=0 skips the others.
import { join } from 'node:path';
import { launch, routeModel, serveDist, sharedDir } from './harness.mjs';

const COARSE = { window: Number(process.env.BENCH_WINDOW ?? 112), stride: Number(process.env.BENCH_STRIDE ?? 56) };
const EASY_EXPLAIN = { window: 45, stride: 9 };
const jobs = [
  ...(process.env.BENCH_BACKENDS ?? 'wasm,webgpu,webgl').split(',').map((backend) => ({ backend, setting: COARSE, workers: 'auto' })),
  ...(process.env.BENCH_EXACT === '0'
    ? []
    : [
        { backend: 'wasm', setting: EASY_EXPLAIN, workers: 1 },
        { backend: 'wasm', setting: EASY_EXPLAIN, workers: 'auto' },
      ]),
];
const image = join(sharedDir, 'images/coffee.png');

const server = await serveDist();
const browser = await launch();
const rows = [];
try {
  for (const { backend, setting, workers } of jobs) {
    const context = await browser.newContext();
    await routeModel(context);
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.longTasks = [];
      new PerformanceObserver((l) => l.getEntries().forEach((e) => window.longTasks.push(e.duration))).observe({ type: 'longtask' });
    });
    const t0 = Date.now();
    await page.goto(`${server.url}?backend=${backend}${workers === 'auto' ? '' : `&workers=${workers}`}`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true' || !document.getElementById('error').hidden, null, { timeout: 600_000 });
    const ready = Date.now() - t0;
    const used = await page.evaluate(() => window.easyExplainDemo.state.backend);
    await page.setInputFiles('#image-file', image);
    await page.waitForFunction(() => document.body.dataset.predictions === 'ready', null, { timeout: 600_000 });
    await page.fill('#window', String(setting.window));
    await page.fill('#stride', String(setting.stride));
    await page.evaluate(() => (window.longTasks.length = 0));
    // The first run in a page also pays wasm's set-up of each new layer shape; a second run shows the steady state.
    const runs = [];
    for (let run = 0; run < 2; run++) {
      await page.evaluate(() => (document.body.dataset.run = ''));
      await page.click('#run');
      await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.run), null, { timeout: 1_800_000 });
      runs.push(await page.evaluate(() => window.easyExplainDemo.state.result?.ms));
    }
    const { total, error, longest, usedWorkers } = await page.evaluate(() => ({
      total: window.easyExplainDemo.state.progress.total,
      error: window.easyExplainDemo.state.error?.message,
      longest: Math.max(0, ...window.longTasks),
      usedWorkers: window.easyExplainDemo.state.result?.parameters.workers,
    }));
    const [firstMs, secondMs] = runs.map((v) => v && Math.round(v));
    rows.push({ backend, used, setting, workers: usedWorkers, windows: total, firstMs, secondMs, readyMs: ready, longestMainThreadTaskMs: longest, error });
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}
console.log('Occlusion on MobileNet v1 0.75 (coffee.png) in Chromium, as the demo runs it (incremental, progressive):');
for (const r of rows) {
  const sec = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const time = r.secondMs === undefined ? `failed: ${r.error}` : `${r.windows} windows: first run ${sec(r.firstMs)}, second ${sec(r.secondMs)}`;
  console.log(
    `  ${r.backend.padEnd(7)} (in use: ${r.used}) window ${r.setting.window} stride ${r.setting.stride}, ${r.workers ?? '?'} worker(s): ${time}; ` +
      `page ready ${(r.readyMs / 1000).toFixed(1)} s; longest main-thread task ${r.longestMainThreadTaskMs} ms`,
  );
}
console.log(JSON.stringify({ bench: 'browser-occlusion', rows }));
