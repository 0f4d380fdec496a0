// Batch benchmark (issue 15): 24 photos (the 6 shared ones, each also flipped, flopped and turned 180°, so every
// one has its own content hash and its own folder) explained with easy-explain's Occlusion (window 45, stride 9) on
// MobileNet v1 0.75, wasm, written to a report folder as the CLI does. Prints images/s with 1 and 2 occlusion
// workers, peak RSS after 6 and after 24 images (it must not grow with the count), then the same 24 jobs on a
// BullMQ queue (a local redis-server) with 2 worker processes of 1 thread each, against the plain batch with 2
// threads: the queue's overhead per image. Skips the queue part when redis-server is not installed.
// Usage: node bench/batch.mjs   (build first: npm run build)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { explainBatch, loadModel, setupBackend } from '@easy-explain/backend-node';

const here = fileURLToPath(new URL('.', import.meta.url));
const shared = join(here, '..', '..', 'shared');
const cli = fileURLToPath(new URL('./cli.js', import.meta.resolve('@easy-explain/backend-node')));
const modelJson = join(shared, 'models', 'mobilenet_v1_0.75_224', 'model.json');
const PHOTOS = ['astronaut.png', 'chelsea.png', 'coffee.png', 'grace_hopper.jpg', 'raccoon.jpg', 'rocket.jpg'];
const EASY_EXPLAIN = { slidingWindowShapes: [45, 45], strides: 9 };
const mb = (kb) => `${(kb / 1024).toFixed(0)} MB`;
const tmp = mkdtempSync(join(tmpdir(), 'ee-bench-batch-'));

// 24 distinct images as files (the queue's jobs name files).
const files = [];
for (const photo of PHOTOS) {
  const source = join(shared, 'images', photo);
  const variants = { orig: (s) => s, flip: (s) => s.flip(), flop: (s) => s.flop(), turn: (s) => s.rotate(180) };
  for (const [name, op] of Object.entries(variants)) {
    const file = join(tmp, `${photo.replace(/\.\w+$/, '')}-${name}.png`);
    await op(sharp(readFileSync(source))).png().toFile(file);
    files.push(file);
  }
}

console.log(`# Batch of ${files.length} photos, Occlusion window 45 stride 9 on MobileNet v1 0.75, wasm; load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
const backend = await setupBackend('wasm');
const model = await loadModel(modelJson);
const results = {};
// Memory must not grow with the count: peak RSS after 24 images within 10 % of the peak after 6 (measured growth
// on 2026-12-02: 4 % with 1 worker, 0 % with 2).
const RSS_GROWTH_BAR = 0.1;
let failed = false;
try {
  for (const workers of [1, 2]) {
    const out = join(tmp, `batch-${workers}`);
    const start = performance.now();
    let done = 0;
    const rss = {};
    for await (const item of explainBatch(model, files, { methods: [{ method: 'occlusion', methodOptions: { ...EASY_EXPLAIN, workers } }], outDir: out })) {
      if (!item.ok) throw item.error;
      done++;
      if (done === 6 || done === 24) rss[done] = { peak: process.resourceUsage().maxRSS, now: process.memoryUsage().rss / 1024 };
    }
    const seconds = (performance.now() - start) / 1000;
    results[workers] = seconds;
    console.log(
      `batch, ${workers} worker${workers > 1 ? 's' : ''} (${backend}): ${(files.length / seconds).toFixed(3)} images/s (${(seconds / files.length).toFixed(2)} s/image); ` +
        `peak RSS after 6 images ${mb(rss[6].peak)}, after 24 ${mb(rss[24].peak)} (growth ${mb(rss[24].peak - rss[6].peak)}); RSS now ${mb(rss[6].now)} → ${mb(rss[24].now)}`,
    );
    if (rss[24].peak > rss[6].peak * (1 + RSS_GROWTH_BAR)) {
      console.log(`FAIL: peak RSS grew more than ${RSS_GROWTH_BAR * 100} % from 6 to 24 images`);
      failed = true;
    }
  }
} finally {
  model.dispose();
}

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
if (!hasRedis) {
  console.log('queue: skipped (redis-server not installed; apt-get install redis-server)');
} else {
  const port = await new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmp], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((ok) => redis.stdout.on('data', (c) => String(c).includes('Ready to accept') && ok()));
  try {
    const url = `redis://127.0.0.1:${port}`;
    const out = join(tmp, 'queue');
    const flags = ['--model', modelJson, '--window', '45', '--stride', '9', '--workers', '1', '--backend', 'wasm'];
    const start = performance.now();
    const add = spawnSync(process.execPath, [cli, 'queue', 'add', ...files, '--redis', url, '--out', out, ...flags, '--quiet'], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(add.stderr);
    const work = () =>
      new Promise((ok, fail) => {
        const w = spawn(process.execPath, [cli, 'queue', 'work', '--redis', url, '--until-empty', '--quiet'], { stdio: 'inherit' });
        w.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`queue worker exited ${code}`))));
      });
    await Promise.all([work(), work()]);
    const seconds = (performance.now() - start) / 1000;
    const overhead = (seconds - results[2]) / files.length;
    console.log(
      `queue, 2 worker processes × 1 thread on Redis: ${(files.length / seconds).toFixed(3)} images/s (${(seconds / files.length).toFixed(2)} s/image, ` +
        `processes, model loads and Redis included) vs the plain batch with 2 threads: ${overhead >= 0 ? '+' : ''}${(overhead * 1000).toFixed(0)} ms per image`,
    );
  } finally {
    redis.kill('SIGTERM');
  }
}
rmSync(tmp, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
