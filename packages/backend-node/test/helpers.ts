// Shared test helpers: fixture paths, a local HTTP server, a tiny generated model, and running the CLI as a user would.
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
// Tests that only save a tiny model need some backend: cpu is registered, the others choose theirs with setupBackend.
import '@tensorflow/tfjs-backend-cpu';

export const SHARED = fileURLToPath(new URL('../../../../shared/', import.meta.url));
export const PACKAGE = fileURLToPath(new URL('../', import.meta.url));
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(PACKAGE, 'dist', 'cli.js');
export const MOBILENET = join(SHARED, 'models', 'mobilenet_v1_0.75_224', 'model.json');
export const DARKNET = join(SHARED, 'models', 'darknet_tiny');
export const EMOTION = join(SHARED, 'models', 'emotion_mini_xception', 'model.json');
export const image = (name: string) => join(SHARED, 'images', name);
/** The occlusion workers 'auto' gives on this host (runEasyExplain's and the CLI's default). */
export const AUTO_WORKERS = Math.min(availableParallelism(), 4);

export function tempDir(prefix = 'ee-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Serves a folder read-only on 127.0.0.1, counting requests per path. */
export async function serveFolder(root: string): Promise<{ url: string; requests: Map<string, number>; close(): Promise<void> }> {
  const requests = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.set(path, (requests.get(path) ?? 0) + 1);
    const file = normalize(join(root, path));
    try {
      if (!file.startsWith(normalize(root)) || !statSync(file).isFile()) throw new Error('not a file');
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(readFileSync(file));
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections(); // fetch keeps connections alive; do not wait for them to time out
      }),
  };
}

/** How a hostile test server answers one path: bytes or text (200), or a handler that does what it likes. */
export type Route = string | Uint8Array | ((req: IncomingMessage, res: ServerResponse) => void);

/**
 * An HTTP server on 127.0.0.1 (random port) answering `routes` by path (404 otherwise) and recording every request's
 * path and query. Tests start one per case and close it; close() also ends responses still streaming.
 */
export async function hostileServer(routes: Record<string, Route>): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname + url.search);
    const route = routes[url.pathname];
    if (route === undefined) res.writeHead(404).end('not found');
    else if (typeof route === 'function') route(req, res);
    else res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(route);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

/** A response that sends `chunk` forever (until the client goes away). */
export function endless(chunk = new Uint8Array(64 * 1024)): Route {
  return (req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    res.on('close', () => res.removeAllListeners('drain'));
    pump();
  };
}

/** A response that sends its headers, maybe a first chunk, and then nothing, ever. */
export function stalled(first?: Uint8Array): Route {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    if (first) res.write(first);
    else res.flushHeaders();
  };
}

/** A port nothing listens on: bind, note, close. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

/**
 * Saves a small generated LayersModel (model.json + one shard) into `dir`. `image: false` makes a model whose
 * input is a flat vector, not an image batch.
 */
export async function saveTinyModel(dir: string, options: { image?: boolean } = {}): Promise<string> {
  const model = tfl.sequential();
  if (options.image === false) {
    model.add(tfl.layers.dense({ inputShape: [10], units: 3, activation: 'softmax' }));
  } else {
    model.add(tfl.layers.conv2d({ inputShape: [16, 16, 3], filters: 2, kernelSize: 3, activation: 'relu' }));
    model.add(tfl.layers.globalAveragePooling2d({}));
    model.add(tfl.layers.dense({ units: 3 }));
  }
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      await writeFile(join(dir, 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
      const json = {
        format: 'layers-model',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      await writeFile(join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return join(dir, 'model.json');
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the built CLI in a child process (node dist/cli.js …), as a user would. */
export function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number; onStderr?: (chunk: string, child: ReturnType<typeof spawn>) => void; command?: string[] } = {},
): Promise<CliRun> {
  const start = performance.now();
  const [cmd, ...pre] = options.command ?? [process.execPath, CLI];
  const child = spawn(cmd, [...pre, ...args], {
    cwd: options.cwd ?? PACKAGE,
    env: { ...process.env, EASY_EXPLAIN_DEBUG: undefined, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
    options.onStderr?.(c, child);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 180_000);
  return new Promise((ok, fail) => {
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      ok({ code, signal, stdout, stderr, ms: performance.now() - start });
    });
  });
}

/** The non-empty lines of a text. */
export const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

/** A writable stream that keeps what is written to it (a CLI's stdout or stderr in tests). */
export function captureStream(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

/** The largest |a − b| as a fraction of the largest |b| (which must not be 0: an all-zero reference proves nothing). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  let max = 0;
  for (let i = 0; i < b.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    max = Math.max(max, Math.abs(b[i]));
  }
  if (max === 0) throw new Error('relativeError: the reference is all zeros');
  return worst / max;
}
