// The batch report (backend-node's report.ts) in Debian's Chromium, opened from the file system: it renders the
// grid, filters by predicted class, sorts by confidence, opens an image's figures with methods side by side, and
// makes no request outside its folder.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { explainBatch, loadModel, setupBackend, writeReport, type ImageRecord } from '@easy-explain/backend-node';
import { launch, mobilenetDir, sharedDir } from '../bench/harness.mjs';

const PHOTOS = ['chelsea.png', 'coffee.png', 'rocket.jpg'];
let out: string;
let browser: Browser;
let records: ImageRecord[];

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'ee-report-'));
  await setupBackend('wasm');
  const model = await loadModel(join(mobilenetDir, 'model.json'));
  try {
    const methods = [{ method: 'occlusion' as const, methodOptions: { slidingWindowShapes: [56, 56] as [number, number], strides: 56 } }, { method: 'grad_cam' as const }];
    for await (const item of explainBatch(model, PHOTOS.map((p) => join(sharedDir, 'images', p)), { methods, outDir: out })) {
      if (!item.ok) throw item.error;
    }
  } finally {
    model.dispose();
  }
  await writeReport(out);
  records = readdirSync(join(out, 'images')).map((key) => JSON.parse(readFileSync(join(out, 'images', key, 'image.json'), 'utf8')));
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  rmSync(out, { recursive: true, force: true });
});

describe('batch report', () => {
  it('renders from file://, filters by class, sorts by confidence, shows methods side by side, loads nothing from outside', async () => {
    const context = await browser.newContext();
    const requests: string[] = [];
    context.on('request', (r) => requests.push(r.url()));
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(join(out, 'index.html')).href);
    await page.waitForFunction(() => document.body.dataset.ready === 'true');
    // Every card's heat-map figure is loaded (lazy images are in view at this size).
    await page.setViewportSize({ width: 1400, height: 2000 });
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('.card img')].every((i) => i.complete && i.naturalWidth > 0));
    const cards = () => page.$$eval('.card', (els) => els.map((e) => ({ key: (e as HTMLElement).dataset.key!, label: (e as HTMLElement).dataset.label!, confidence: Number((e as HTMLElement).dataset.confidence) })));

    // Default order: confidence, highest first.
    const byConfidence = [...records].sort((a, b) => b.predictions[0].percentage - a.predictions[0].percentage);
    expect((await cards()).map((c) => c.key)).toEqual(byConfidence.map((r) => r.key));
    await page.selectOption('#sort', 'confidence-asc');
    expect((await cards()).map((c) => c.key)).toEqual([...byConfidence].reverse().map((r) => r.key));

    // Filter by the predicted class: one option per distinct top-1 label.
    const labels = [...new Set(records.map((r) => r.predictions[0].label))].sort();
    expect(await page.$$eval('#filter option', (os) => os.map((o) => (o as HTMLOptionElement).value).filter(Boolean))).toEqual(labels);
    await page.selectOption('#filter', 'espresso');
    expect((await cards()).map((c) => c.label)).toEqual(['espresso']);
    expect(await page.textContent('#count')).toBe(`1 of ${PHOTOS.length} images`);

    // Click: the figure set, one column per method.
    await page.click('.card');
    await page.waitForFunction(() => !document.getElementById('detail')!.hidden);
    expect(await page.$$eval('#panel th', (ths) => ths.slice(0, 3).map((t) => t.textContent))).toEqual(['target', 'occlusion', 'grad_cam']);
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('#panel img')].every((i) => i.complete && i.naturalWidth > 0));
    expect(await page.$$eval('#panel img', (imgs) => imgs.length)).toBe(2);
    expect(await page.$$eval('#panel a', (as) => as.map((a) => a.textContent))).toEqual(['attribution.npy', 'explanation.json', 'attribution.npy', 'explanation.json']);
    await page.keyboard.press('Escape');
    expect(await page.isHidden('#detail')).toBe(true);

    expect(errors).toEqual([]);
    const inside = pathToFileURL(out).href + '/';
    // The page, a figure per card, and the grad_cam figure of the opened image (its occlusion one is the card's).
    const coffee = records.find((r) => r.predictions[0].label === 'espresso')!;
    const gradCam = coffee.runs.find((r) => r.method === 'grad_cam')!;
    expect(new Set(requests)).toEqual(
      new Set([
        pathToFileURL(join(out, 'index.html')).href,
        ...records.map((r) => pathToFileURL(join(out, 'images', r.key, r.runs[0].figures[0])).href),
        pathToFileURL(join(out, 'images', coffee.key, gradCam.figures[0])).href,
      ]),
    );
    for (const url of requests) expect(url.startsWith(inside), url).toBe(true);
    await context.close();
  });
});
