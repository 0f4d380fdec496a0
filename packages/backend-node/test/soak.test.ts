// Soak (issue 11): 1000 attribution calls after 300 of warm-up on one loaded model (mixed methods, some aborted, some concurrent with
// occlusion workers) leave no tensor behind, repeat the first run's results bit for bit, and do not grow the heap.
// Not timed; the small Captum fixture model (32×32×3) keeps it to about a minute on 2 cores. Warm-up: RSS climbs
// for the first ~300 calls (worker threads, wasm and V8 heaps growing to their working size; measured with
// --expose-gc: 120 MB → 279 MB by call 300, then 279 → 294 MB over the next 2400 calls).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { runMethod, type MethodName, type MethodOptions } from '@easy-explain/core';
import { loadModel, setupBackend, type LoadedModel } from '@easy-explain/backend-node';
import { SHARED } from './helpers';

interface Job {
  method: MethodName;
  settings: MethodOptions;
}

const OCCLUSION = { slidingWindowShapes: [8, 8] as [number, number], strides: 8, perturbationsPerEval: 4 }; // 16 windows, 4 batches
const JOBS: Job[] = [
  { method: 'occlusion', settings: { ...OCCLUSION, workers: 1 } },
  { method: 'occlusion', settings: { ...OCCLUSION, workers: 2 } },
  { method: 'integrated_gradients', settings: { nSteps: 8 } },
  { method: 'saliency', settings: {} },
  { method: 'guided_backprop', settings: {} },
  { method: 'grad_cam', settings: {} },
  { method: 'smoothgrad', settings: { ntSamples: 4, ntSamplesBatchSize: 4 } },
];

let model: LoadedModel;
let x: tf.Tensor4D;
beforeAll(async () => {
  await setupBackend('wasm');
  model = await loadModel(join(SHARED, 'reference', 'model', 'model.json'));
  x = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
});
afterAll(() => {
  x?.dispose();
  model?.dispose();
});

/** One attribution's values, the tensor freed. */
async function attribute(job: Job, signal?: AbortSignal, onProgress?: () => void): Promise<Float32Array> {
  const { attribution } = await runMethod(job.method, model, x, { target: 1, signal, onProgress }, job.settings as never);
  try {
    return (await attribution.data()) as Float32Array;
  } finally {
    attribution.dispose();
  }
}

const sameBits = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('soak', () => {
  it('1000 calls after warm-up: no tensor left, results exact, RSS growth under 50 MB after warm-up', async () => {
    const reference = new Map<Job, Float32Array>();
    for (const job of JOBS) reference.set(job, await attribute(job));
    // Occlusion in 2 workers scores exactly the batches one thread scores.
    expect(sameBits(reference.get(JOBS[0])!, reference.get(JOBS[1])!)).toBe(true);

    const tensors = tf.memory().numTensors;
    let calls = 0;
    let aborted = 0;
    let concurrent = 0;
    let rssAfterWarmUp = 0;
    const check = (job: Job, values: Float32Array) => {
      if (!sameBits(values, reference.get(job)!)) throw new Error(`call ${calls}: ${job.method} ${JSON.stringify(job.settings)} differs from its first run`);
    };
    const WARM_UP = 300;
    for (let round = 0; rssAfterWarmUp === 0 || calls < 1000; round++) {
      if (round % 10 === 9) {
        // Aborted: occlusion in workers after its first batch, or a gradient method before it starts.
        const controller = new AbortController();
        const job = round % 20 === 9 ? JOBS[1] : JOBS[2];
        const run = attribute(job, job === JOBS[1] ? controller.signal : AbortSignal.abort(), () => controller.abort());
        await expect(run).rejects.toMatchObject({ code: 'aborted' });
        calls += 1;
        aborted += 1;
      } else if (round % 7 === 6) {
        // Concurrent on the same model: two occlusions sharing its worker pool, and a gradient method.
        const jobs = [JOBS[1], JOBS[1], JOBS[3]];
        const results = await Promise.all(jobs.map((job) => attribute(job)));
        jobs.forEach((job, k) => check(job, results[k]));
        calls += jobs.length;
        concurrent += jobs.length;
      } else {
        const job = JOBS[round % JOBS.length];
        check(job, await attribute(job));
        calls += 1;
      }
      if (rssAfterWarmUp === 0 && calls >= WARM_UP) {
        rssAfterWarmUp = process.memoryUsage().rss;
        [calls, aborted, concurrent] = [0, 0, 0]; // count the measured calls only
      }
      if (round % 50 === 0) expect(tf.memory().numTensors, `after ${calls} calls`).toBe(tensors);
    }
    expect(tf.memory().numTensors).toBe(tensors);
    const growthMB = (process.memoryUsage().rss - rssAfterWarmUp) / 2 ** 20;
    console.log(`soak: ${calls} calls (${aborted} aborted, ${concurrent} concurrent), RSS growth after warm-up ${growthMB.toFixed(1)} MB`);
    // One round in ten is an abort, one in seven runs three calls at once.
    expect(aborted).toBeGreaterThanOrEqual(70);
    expect(concurrent).toBeGreaterThanOrEqual(250);
    expect(growthMB).toBeLessThan(50);
    // The pool still answers after all of it.
    check(JOBS[1], await attribute(JOBS[1]));
  });
});
