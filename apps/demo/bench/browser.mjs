#!/usr/bin/env node
// Occlusion on MobileNet in one Chromium, wasm vs webgpu vs webgl, with a fixed coarse setting.
// Needs the built demo (npm run build -w apps/demo). Prints a table and, last, one JSON line for scripts.
// Software WebGPU/WebGL (SwiftShader) is for correctness here; on a real GPU the order changes.
import { join } from 'node:path';
import { launch, routeModel, serveDist, sharedDir } from './harness.mjs';

const SETTING = { window: Number(process.env.BENCH_WINDOW ?? 112), stride: Number(process.env.BENCH_STRIDE ?? 56) };
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'wasm,webgpu,webgl').split(',');
const image = join(sharedDir, 'images/coffee.png');

const server = await serveDist();
const browser = await launch();
const rows = [];
try {
  for (const backend of BACKENDS) {
    const context = await browser.newContext();
    await routeModel(context);
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.longTasks = [];
      new PerformanceObserver((l) => l.getEntries().forEach((e) => window.longTasks.push(e.duration))).observe({ type: 'longtask' });
    });
    const t0 = Date.now();
    await page.goto(`${server.url}?backend=${backend}`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true' || !document.getElementById('error').hidden, null, { timeout: 600_000 });
    const ready = Date.now() - t0;
    const used = await page.evaluate(() => window.easyExplainDemo.state.backend);
    await page.setInputFiles('#image-file', image);
    await page.waitForFunction(() => document.body.dataset.predictions === 'ready', null, { timeout: 600_000 });
    await page.fill('#window', String(SETTING.window));
    await page.fill('#stride', String(SETTING.stride));
    await page.evaluate(() => (window.longTasks.length = 0));
    await page.click('#run');
    await page.waitForFunction(() => ['done', 'failed'].includes(document.body.dataset.run), null, { timeout: 1_800_000 });
    const { ms, total, error, longest } = await page.evaluate(() => ({
      ms: window.easyExplainDemo.state.result?.ms,
      total: window.easyExplainDemo.state.progress.total,
      error: window.easyExplainDemo.state.error?.message,
      longest: Math.max(0, ...window.longTasks),
    }));
    rows.push({ backend, used, windows: total, occlusionMs: ms && Math.round(ms), readyMs: ready, longestMainThreadTaskMs: longest, error });
    await context.close();
  }
} finally {
  await browser.close();
  await server.close();
}
console.log(`Occlusion on MobileNet v1 0.75 (coffee.png, window ${SETTING.window}, stride ${SETTING.stride}) in Chromium:`);
for (const r of rows) {
  const time = r.occlusionMs === undefined ? `failed: ${r.error}` : `${(r.occlusionMs / 1000).toFixed(2)} s for ${r.windows} windows`;
  console.log(`  ${r.backend.padEnd(7)} (in use: ${r.used}) ${time}; page ready ${(r.readyMs / 1000).toFixed(1)} s; longest main-thread task ${r.longestMainThreadTaskMs} ms`);
}
console.log(JSON.stringify({ bench: 'browser-occlusion', setting: SETTING, rows }));
