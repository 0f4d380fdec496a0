// Embedding easy-explain as a user would: a scratch Vite app outside the workspace, installed from `npm pack`
// tarballs of backend-web and the packages it depends on, plus vite from the registry, with a few lines of app code and no worker files
// or wasm paths of its own; built with `vite build`, served by `vite preview` and driven in Debian's Chromium.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { demoDir, launch, mobilenetDir, sharedDir } from '../bench/harness.mjs';

const repoRoot = resolve(demoDir, '../..');
const VITE_VERSION = '8.3.8';

// The whole app: 3 lines of HTML and 9 of JavaScript. The element explains on its own; main.js uses the API: an explain
// called while the model loads (it waits for it), one cancelled at its first progress report, then a full one.
const INDEX_HTML = `<!doctype html>
<easy-explain-view model="/model/model.json" preset="mobilenet" backend="wasm" src="/coffee.png" window="112" stride="56"></easy-explain-view>
<script type="module" src="/main.js"></script>
`;
const MAIN_JS = `import { createExplainer } from '@easy-explain/backend-web';
import '@easy-explain/backend-web/element';
const explainer = createExplainer({ backend: new URLSearchParams(location.search).get('backend') ?? 'wasm' });
window.backend = (await explainer.ready).backend;
explainer.loadModel('/model/model.json', { preset: 'mobilenet' });
const stop = new AbortController();
const cancelled = await explainer.explain('/coffee.png', { methodOptions: { slidingWindowShapes: [16, 16], strides: 8 }, signal: stop.signal, onProgress: () => stop.abort() }).catch((e) => e.code);
const { predictions, figures } = await explainer.explain('/coffee.png', { methodOptions: { slidingWindowShapes: [112, 112], strides: 56 } });
window.top1 = { ...predictions[0], cancelled, figure: [figures[0].width, figures[0].height] };
`;

let temp: string;
let preview: ChildProcess | undefined;
let url: string;
let browser: Browser;

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } });
}

/** Starts `vite preview` on a free port of 127.0.0.1 and resolves to its URL. */
function startPreview(app: string): Promise<string> {
  const child = spawn(process.execPath, [join(app, 'node_modules/vite/bin/vite.js'), 'preview', '--host', '127.0.0.1', '--port', '0', '--strictPort'], {
    cwd: app,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  preview = child;
  return new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`vite preview printed no URL in 60 s:\n${out}`)), 60_000);
    const read = (chunk: Buffer) => {
      out += chunk.toString();
      const match = out.replace(/\x1b\[[0-9;]*m/g, '').match(/http:\/\/127\.0\.0\.1:\d+\//);
      if (match) {
        clearTimeout(timer);
        ok(match[0]);
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.on('exit', (code) => fail(new Error(`vite preview exited with ${code}:\n${out}`)));
  });
}

/** A page whose /model/* and /coffee.png come from ../shared, as the app's own server would serve them. */
async function openApp(query = ''): Promise<{ page: Page; context: BrowserContext; errors: string[] }> {
  const context = await browser.newContext();
  await context.route('**/model/*', async (route) => {
    const name = new URL(route.request().url()).pathname.split('/').pop()!;
    const body = readFileSync(join(mobilenetDir, name));
    await route.fulfill({ status: 200, body, contentType: name.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
  });
  await context.route('**/coffee.png', (route) => route.fulfill({ status: 200, body: readFileSync(join(sharedDir, 'images/coffee.png')), contentType: 'image/png' }));
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url + query);
  return { page, context, errors };
}

beforeAll(async () => {
  // Tarballs of the built packages (turbo's cache makes the build a no-op after the root `npm test` built them).
  run('npx', ['turbo', 'run', 'build', '--filter=@easy-explain/backend-web...', '--output-logs=errors-only'], repoRoot);
  temp = mkdtempSync(join(tmpdir(), 'easy-explain-embed-'));
  // backend-web and the workspace packages it depends on.
  const packages = ['core', 'viz', 'onnx', 'runtime', 'backend-web'];
  run('npm', ['pack', '--pack-destination', temp, ...packages.flatMap((p) => ['-w', `packages/${p}`])], repoRoot);
  const tarballs = readdirSync(temp).filter((f) => f.endsWith('.tgz')).map((f) => join(temp, f));
  expect(tarballs).toHaveLength(packages.length);

  const app = join(temp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'embed-scratch', private: true, type: 'module' }));
  writeFileSync(join(app, 'index.html'), INDEX_HTML);
  writeFileSync(join(app, 'main.js'), MAIN_JS);
  // One install: the tarballs name each other by version, so they must arrive together.
  run('npm', ['install', '--save-exact', ...tarballs, `vite@${VITE_VERSION}`], app);
  run(process.execPath, [join(app, 'node_modules/vite/bin/vite.js'), 'build'], app);
  url = await startPreview(app);
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  if (preview?.pid) process.kill(preview.pid);
  if (temp) rmSync(temp, { recursive: true, force: true });
});

describe('a scratch Vite app installed from tarballs', () => {
  it('explains coffee.png with createExplainer and <easy-explain-view> on wasm: espresso first, a coloured heat map', async () => {
    const { page, context, errors } = await openApp();
    await page.waitForFunction(() => (window as any).top1 !== undefined, null, { timeout: 300_000 });
    const top1 = await page.evaluate(() => (window as any).top1);
    expect(await page.evaluate(() => (window as any).backend)).toBe('wasm');
    expect(top1.index).toBe(967);
    expect(top1.label).toBe('espresso');
    expect(top1.cancelled).toBe('aborted');
    // The default figure is [blended heat map, original image] of the 224×224 crop, with titles and a colour bar.
    expect(top1.figure[0]).toBeGreaterThan(2 * 224);

    await page.waitForFunction(() => ['done', 'error'].includes(document.querySelector('easy-explain-view')!.getAttribute('status') ?? ''), null, {
      timeout: 300_000,
    });
    const view = await page.evaluate(() => {
      const root = document.querySelector('easy-explain-view')!.shadowRoot!;
      const canvas = root.querySelector('canvas')!;
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      const colours = new Set<number>();
      let coloured = 0;
      for (let i = 0; i < data.length; i += 4) {
        colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
        if (Math.abs(data[i] - data[i + 1]) > 20 || Math.abs(data[i + 1] - data[i + 2]) > 20) coloured++;
      }
      return {
        status: document.querySelector('easy-explain-view')!.getAttribute('status'),
        error: root.querySelector('[part="error"]')!.textContent,
        first: root.querySelector('[part="predictions"] li')?.getAttribute('data-index'),
        text: root.querySelector('[part="predictions"] li')?.textContent,
        size: [canvas.width, canvas.height],
        colours: colours.size,
        coloured,
      };
    });
    console.log(`<easy-explain-view>: ${view.text}; figure ${view.size.join('×')}, ${view.colours} colours, ${view.coloured} coloured pixels`);
    expect(view.error).toBe('');
    expect(view.status).toBe('done');
    expect(view.first).toBe('967');
    expect(view.text).toMatch(/^espresso/);
    expect(view.size[0]).toBeGreaterThanOrEqual(224);
    // Not a blank or uniform canvas: a heat map blended over the photo has thousands of colours.
    expect(view.colours).toBeGreaterThan(1000);
    expect(view.coloured).toBeGreaterThan(1000);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("'auto' picks webgpu on Chromium's software WebGPU (SwiftShader)", async () => {
    const { page, context, errors } = await openApp('?backend=auto');
    await page.waitForFunction(() => (window as any).backend !== undefined, null, { timeout: 120_000 });
    expect(await page.evaluate(() => (window as any).backend)).toBe('webgpu');
    expect(errors).toEqual([]);
    await context.close();
  });
});
