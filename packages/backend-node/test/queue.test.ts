// The batch's jobs on BullMQ with a real redis-server (Debian's, installed by .ci/run) on 127.0.0.1 at a free port:
// two worker processes, one killed in the middle of a job; every image must end exactly once, with the map a
// one-image call gives, and a bad image must fail at once without retries.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeNpy, loadModel, runEasyExplain, setupBackend } from '@easy-explain/backend-node';
import { CLI, closedPort, image, MOBILENET, PACKAGE, removeDir, runCli, tempDir } from './helpers';

const PHOTOS = ['astronaut.png', 'chelsea.png', 'coffee.png', 'grace_hopper.jpg', 'raccoon.jpg', 'rocket.jpg'];
const coarse = ['--model', MOBILENET, '--window', '56', '--stride', '56', '--backend', 'wasm'];

let dir: string;
let redis: ChildProcess;
let url: string;

beforeAll(async () => {
  dir = tempDir('ee-queue-');
  const port = await closedPort();
  url = `redis://127.0.0.1:${port}`;
  // No persistence: the server lives only for this file.
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((ok, fail) => {
    let log = '';
    redis.on('error', (e) => fail(new Error(`redis-server did not start (install Debian's redis-server): ${e.message}`)));
    redis.on('exit', (code) => fail(new Error(`redis-server exited ${code}: ${log}`)));
    redis.stdout!.on('data', (c: Buffer) => {
      log += c.toString();
      if (log.includes('Ready to accept connections')) ok();
    });
  });
});
afterAll(async () => {
  redis?.kill('SIGTERM');
  await new Promise((ok) => (redis?.exitCode !== null ? ok(undefined) : redis.once('exit', ok)));
  removeDir(dir);
});

/** `easy-explain queue work` as a child process, its stdout collected as it comes. */
function startWorker(args: string[], queue = 'test') {
  const child = spawn(process.execPath, [CLI, 'queue', 'work', '--redis', url, '--queue', queue, ...args], { cwd: PACKAGE, stdio: ['ignore', 'pipe', 'pipe'] });
  const state = { stdout: '', stderr: '', child, exit: new Promise<number | null>((ok) => child.on('exit', (code) => ok(code))) };
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (state.stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (state.stderr += c));
  return state;
}

describe('easy-explain queue', () => {
  it('two workers, one killed mid-job: every image done exactly once with the right map; a bad image fails at once', async () => {
    const out = join(dir, 'shared-out');
    const broken = join(dir, 'broken.jpg');
    writeFileSync(broken, 'not a jpeg');
    const sources = [...PHOTOS.map(image), broken];
    const add = await runCli(['queue', 'add', ...sources, '--redis', url, '--queue', 'test', '--out', out, ...coarse]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain(`Queued 7 of 7 images on test at ${url}`);
    const again = await runCli(['queue', 'add', ...sources, '--redis', url, '--queue', 'test', '--out', out, ...coarse]);
    expect(again.stdout).toContain('Queued 0 of 7 images'); // the same jobs are not queued twice

    const a = startWorker(['--lock-seconds', '3']);
    const b = startWorker(['--lock-seconds', '3', '--until-empty']);
    // Kill A (no goodbye: SIGKILL) once it has taken a job and is working on it.
    const killed = await new Promise<string>((ok) => {
      const timer = setInterval(() => {
        const started = /start (\S+) \(attempt 1\)/.exec(a.stdout);
        if (started) {
          clearInterval(timer);
          setTimeout(() => {
            a.child.kill('SIGKILL');
            ok(started[1]);
          }, 200);
        }
      }, 20);
    });
    expect(await a.exit).toBeNull(); // died by the signal
    expect(a.stdout).not.toContain(`done ${killed}`);
    const bCode = await b.exit;
    expect(b.stderr).toMatch(/failed .*broken\.jpg \(attempt 1\): image_invalid: /);
    expect(bCode === 3 || (bCode === 0 && a.stderr.includes('broken.jpg'))).toBe(true);

    // The killed job came back (its lock expired) and B did it.
    if (killed !== broken) expect(b.stdout).toContain(`start ${killed}`);
    const doneLines = b.stdout.split('\n').filter((l) => l.startsWith('done '));
    expect(doneLines.filter((l) => !l.includes('already in the folder'))).toHaveLength(PHOTOS.length);

    const status = await runCli(['queue', 'status', '--redis', url, '--queue', 'test']);
    expect(status.stdout.trim()).toBe('waiting 0, active 0, delayed 0, completed 6, failed 1');
    const report = await runCli(['queue', 'report', '--redis', url, '--queue', 'test', '--out', out]);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toContain(`Report of 6 images (1 failed): ${join(out, 'index.html')}`);

    // Exactly one folder per photo; the report build removed the killed worker's partial folder (same host, dead pid).
    const folders = readdirSync(join(out, 'images')).sort();
    expect(folders.map((f) => f.replace(/-[0-9a-f]{12}$/, ''))).toEqual(PHOTOS.map((p) => p.replace(/\.\w+$/, '')).sort());
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html.match(/"key":"/g)).toHaveLength(6);

    // Each saved map is the map a one-image call computes in this process (same model, options, backend).
    await setupBackend('wasm');
    const model = await loadModel(MOBILENET);
    try {
      for (const folder of folders) {
        const record = JSON.parse(readFileSync(join(out, 'images', folder, 'image.json'), 'utf8'));
        const expected = await runEasyExplain(model, { image: record.source, methodOptions: { slidingWindowShapes: [56, 56], strides: 56 } });
        const map = (await expected.attribution.data()) as Float32Array;
        expected.attribution.dispose();
        expect(record.runs).toHaveLength(1);
        expect(record.runs[0].target).toBe(expected.target);
        const saved = decodeNpy(readFileSync(join(out, 'images', folder, record.runs[0].attribution)));
        expect(saved.shape).toEqual([1, 224, 224, 3]);
        expect(saved.data).toEqual(map);
      }
    } finally {
      model.dispose();
    }
  });

  it('retries a failing image with exponential backoff until it works', async () => {
    // The photo's server answers 503 twice, then the photo.
    const hits: number[] = [];
    const server = createServer((_req, res) => {
      hits.push(performance.now());
      if (hits.length <= 2) res.writeHead(503).end('busy');
      else res.writeHead(200, { 'content-type': 'image/png' }).end(readFileSync(image('coffee.png')));
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const photo = `http://127.0.0.1:${(server.address() as AddressInfo).port}/coffee.png`;
    try {
      const out = join(dir, 'retry-out');
      const add = await runCli(['queue', 'add', photo, '--redis', url, '--queue', 'retry', '--out', out, '--backoff', '1', '--attempts', '3', ...coarse, '--method', 'grad_cam']);
      expect(add.code, add.stderr).toBe(0);
      const worker = startWorker(['--until-empty'], 'retry');
      const code = await worker.exit;
      expect(code, worker.stderr).toBe(3); // two failed attempts, reported
      expect(worker.stderr).toContain(`failed ${photo} (attempt 1): image_invalid: Cannot fetch the image ${photo}: HTTP 503`);
      expect(worker.stderr).toContain(`failed ${photo} (attempt 2)`);
      expect(worker.stdout).toContain(`done ${photo}: espresso`);
      expect(hits).toHaveLength(3);
      // Backoff 1 s, then 2 s (BullMQ's exponential: delay × 2^(attempt-1)); scheduling adds, never removes.
      expect(hits[1] - hits[0]).toBeGreaterThanOrEqual(1000);
      expect(hits[2] - hits[1]).toBeGreaterThanOrEqual(2000);
      expect(readdirSync(join(out, 'images'))).toEqual([expect.stringMatching(/^coffee-[0-9a-f]{12}$/)]);
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });

  it('says what to do when Redis is not there, before any work', async () => {
    const port = await closedPort();
    const run = await runCli(['queue', 'add', image('coffee.png'), '--redis', `redis://127.0.0.1:${port}`]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`Cannot reach Redis at redis://127.0.0.1:${port}: .*Start redis-server, or pass --redis redis://host:port\\.`));
    const bad = await runCli(['queue', 'work', '--redis', 'http://x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--redis must be a redis:// or rediss:// URL');
    const unknown = await runCli(['queue', 'frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown queue command "frobnicate"');
  });
});
