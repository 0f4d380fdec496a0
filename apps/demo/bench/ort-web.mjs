#!/usr/bin/env node
// onnxruntime-web against TF.js in one Chromium, on an ONNX model (default MobileNet v1 0.75 from ../shared):
// forward ms/image on onnxruntime-web's wasm with 1 thread and, in a cross-origin isolated page, 2 threads; the same
// on TF.js (the model's conversion; wasm, and webgpu, the demo's first choice); then easy-explain's Occlusion job
// (window 45, stride 9, one thread) scored by each. Builds its own small page (bench/ort-web) with Vite.
// Prints a table and, last, one JSON line. BENCH_MODEL=resnet18.onnx picks another file of ../shared/models/onnx;
// BENCH_ROWS=ort1,ort2,webgpu limits the pages; BENCH_WINDOW/BENCH_STRIDE change the job.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { build } from 'vite';
import { demoDir, launch, sharedDir } from './harness.mjs';

const MODEL = process.env.BENCH_MODEL ?? 'mobilenet_v1_0.75.onnx';
const JOB = { window: Number(process.env.BENCH_WINDOW ?? 45), stride: Number(process.env.BENCH_STRIDE ?? 9) };
const PAGES = {
  // One ORT thread; TF.js wasm (one thread: backend-web turns wasm threads off) on the same page, every scorer.
  ort1: { threads: 1, isolated: false, tf: 'wasm', occlusion: 'ort,tfjs,tfjs-full' },
  // Two ORT threads need SharedArrayBuffer, hence COOP/COEP.
  ort2: { threads: 2, isolated: true, tf: 'wasm', occlusion: 'ort' },
  // The demo's first choice of backend, forwards only (here SwiftShader: software, correctness not speed).
  webgpu: { threads: 1, isolated: false, tf: 'webgpu', occlusion: '' },
};
const wanted = (process.env.BENCH_ROWS ?? 'ort1,ort2,webgpu').split(',');

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
const outDir = mkdtempSync(join(tmpdir(), 'ort-web-bench-'));
await build({
  root: join(demoDir, 'bench/ort-web'),
  base: './',
  logLevel: 'warn',
  build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 1 << 20 },
});

/** Serves the page, the model and the photo; with `isolated`, the COOP/COEP headers that threads need. */
async function serve(isolated) {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    const file =
      path === '/image.png' ? join(sharedDir, 'images/coffee.png')
      : path.startsWith('/models/') ? join(sharedDir, 'models/onnx', path.slice('/models/'.length))
      : join(outDir, path === '/' ? 'index.html' : path);
    const headers = { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' };
    if (isolated) Object.assign(headers, { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
    try {
      const body = await readFile(file);
      res.writeHead(200, headers).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((ok) => server.close(ok)) };
}

const browser = await launch();
const rows = [];
try {
  for (const name of wanted) {
    const page = PAGES[name];
    const server = await serve(page.isolated);
    const context = await browser.newContext();
    const tab = await context.newPage();
    if (process.env.BENCH_VERBOSE) tab.on('console', (m) => console.error(`[${name}] ${m.text()}`));
    const query = new URLSearchParams({ threads: page.threads, tf: page.tf, occlusion: page.occlusion, model: `/models/${MODEL}`, window: JOB.window, stride: JOB.stride });
    await tab.goto(`${server.url}?${query}`);
    await tab.waitForFunction(() => window.benchResult !== undefined, null, { timeout: 3_600_000, polling: 1000 });
    rows.push({ page: name, ...(await tab.evaluate(() => window.benchResult)) });
    console.error(JSON.stringify(rows.at(-1)));
    await context.close();
    await server.close();
  }
} finally {
  await browser.close();
  rmSync(outDir, { recursive: true, force: true });
}

const ms = (v) => (v === undefined ? '–' : v.toFixed(1));
console.log(`${MODEL} in Chromium (one page each, main thread), forward ms/image at batch 1 / 16, Occlusion window ${JOB.window} stride ${JOB.stride} in s:`);
for (const r of rows) {
  if (r.error) {
    console.log(`  ${r.page}: failed: ${r.error.split('\n')[0]}`);
    continue;
  }
  const o = r.ortForwardMsPerImage;
  const t = r.tfForwardMsPerImage;
  console.log(
    `  ${r.page.padEnd(6)} onnxruntime-web wasm ${r.threads} thread(s)${r.crossOriginIsolated ? ' (isolated)' : ''}: ${ms(o?.batch1)} / ${ms(o?.batch16)}` +
      (t ? `; TF.js ${r.tfBackendInUse}: ${ms(t.batch1)} / ${ms(t.batch16)}` : '') +
      `; occlusion ${Object.entries(r.occlusionSeconds ?? {}).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}` +
      (r.occlusionMaxDiffOfMax !== undefined ? `; maps differ by ${r.occlusionMaxDiffOfMax.toExponential(1)} of max` : ''),
  );
}
console.log(JSON.stringify({ bench: 'browser-ort-web', model: MODEL, job: JOB, rows }));
