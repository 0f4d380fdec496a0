// Shared by the e2e tests and the browser bench: serve the built demo, launch Debian's Chromium, and route the
// default model URL to the copy in ../shared (the network here reaches only the npm registry).
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const demoDir = fileURLToPath(new URL('..', import.meta.url));
export const distDir = join(demoDir, 'dist');
export const sharedDir = resolve(demoDir, '../../../shared');
export const MODEL_URL_PREFIX = 'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.75_224/';
export const mobilenetDir = join(sharedDir, 'models/mobilenet_v1_0.75_224');

export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** A tiny static server for apps/demo/dist on 127.0.0.1; resolves to { url, close, requests }. */
export async function serveDist(root = distDir) {
  if (!existsSync(join(root, 'index.html'))) throw new Error(`${root} has no index.html: build the demo first (npm run build -w apps/demo).`);
  const requests = [];
  const server = createServer(async (req, res) => {
    requests.push({ method: req.method, url: req.url });
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(root, path);
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/`, requests, close: () => new Promise((ok) => server.close(ok)) };
}

export function launch(flags = CHROMIUM_FLAGS) {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: flags, headless: true });
}

/**
 * Serves the default model's files from ../shared for every request to its public URL; with `gate` (a promise),
 * they wait for it first, as a slow download would.
 */
export async function routeModel(context, { fail = false, gate } = {}) {
  await context.route(`${MODEL_URL_PREFIX}**`, async (route) => {
    await gate;
    if (fail) return route.fulfill({ status: 503, body: 'unavailable' });
    const name = new URL(route.request().url()).pathname.split('/').pop();
    try {
      const body = await readFile(join(mobilenetDir, name));
      await route.fulfill({ status: 200, body, contentType: name.endsWith('.json') ? 'application/json' : 'application/octet-stream', headers: { 'access-control-allow-origin': '*' } });
    } catch {
      await route.fulfill({ status: 404, body: 'not found' });
    }
  });
}
