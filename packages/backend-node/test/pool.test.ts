// Occlusion on worker threads: the same map bit for bit as one thread, a pool reused across calls and ended by
// dispose(), abort and worker errors surfacing as ExplainErrors. Workers run the built dist (see global-setup.ts).
import { spawn } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { asModel, Occlusion, preprocess, type OcclusionOptions } from '@easy-explain/core/internal';
import { loadImage, loadModel, setupBackend, type LoadedModel } from '@easy-explain/backend-node';
import { workerPoolOf } from '../src/model.js';
import { HELP, runCli } from '../src/run-cli.js';
import { image, MOBILENET, PACKAGE, removeDir, serveFolder, SHARED, tempDir, captureStream } from './helpers.js';

const REFERENCE = join(SHARED, 'reference');
const readJson = (name: string) => JSON.parse(readFileSync(join(REFERENCE, name), 'utf8'));
const occlusionCases = readJson('occlusion.json').cases as any[];
const inputs = readJson('inputs.json').inputs as any[];
const imageOf = (name: string) => inputs.find((i) => i.name === name).image;

async function attribute(model: LoadedModel | ReturnType<typeof asModel>, x: tf.Tensor4D, options: OcclusionOptions) {
  const occlusion = new Occlusion(model);
  const map = await occlusion.attribute(x, options);
  try {
    return { values: (await map.data()) as Float32Array, workers: occlusion.workers };
  } finally {
    map.dispose();
  }
}

function caseOptions(c: any, perturbationsPerEval?: number): OcclusionOptions {
  const p = c.params.nhwc_equivalent;
  return { target: c.target, slidingWindowShapes: p.sliding_window_shapes, strides: p.strides, baselines: p.baselines, perturbationsPerEval };
}

beforeAll(async () => {
  await setupBackend('wasm');
});

describe('occlusion workers on the reference fixture', () => {
  let model: LoadedModel;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    model = await loadModel(join(REFERENCE, 'model', 'model.json'));
    x = tf.tensor4d(imageOf('rand0'));
  });
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  for (const incremental of [true, false]) {
    // 7 per batch spreads the fixture's 50–100 windows over both workers; the default (64) gives one worker each batch.
    for (const perEval of [7, undefined]) {
      it(`2 workers equal 1 thread bit for bit and match Captum (incremental ${incremental}, perturbationsPerEval ${perEval ?? 'default'})`, async () => {
        const before = tf.memory().numTensors;
        for (const c of occlusionCases) {
          const options = { ...caseOptions(c, perEval), incremental };
          const single = await attribute(model, x, options);
          const pooled = await attribute(model, x, { ...options, workers: 2 });
          expect(single.workers).toBe(1);
          expect(pooled.workers).toBe(2);
          expect(pooled.values).toEqual(single.values);
          const expected = (c.attribution as number[][][][]).flat(3);
          const tolerance = 1e-4 * Math.max(c.max_abs, 1e-6);
          const worst = expected.reduce((m, v, i) => Math.max(m, Math.abs(v - pooled.values[i])), 0);
          expect(worst, c.id).toBeLessThanOrEqual(tolerance);
        }
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  it('reuses the pool across calls and attributes the same', async () => {
    const options = { ...caseOptions(occlusionCases[0], 7), workers: 2 };
    const first = await attribute(model, x, options);
    const ids = workerPoolOf(model)!.threadIds;
    expect(ids).toHaveLength(2);
    const second = await attribute(model, x, { ...options, incremental: false });
    const third = await attribute(model, x, options);
    expect(workerPoolOf(model)!.threadIds).toEqual(ids);
    expect(third.values).toEqual(first.values);
    expect(second.workers).toBe(2);
  });

  it('aborts mid-run with code aborted, and the next call works', async () => {
    const options = { ...caseOptions(occlusionCases[1], 2), workers: 2, incremental: false };
    const reference = await attribute(model, x, options);
    const controller = new AbortController();
    let calls = 0;
    const run = attribute(model, x, {
      ...options,
      signal: controller.signal,
      onProgress: () => {
        // Fire while the next batch is on the workers, not between batches.
        if (++calls === 1) setTimeout(() => controller.abort(), 1);
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'ExplainError', code: 'aborted' });
    expect(calls).toBeLessThan(10);
    const again = await attribute(model, x, options);
    expect(again.values).toEqual(reference.values);
  });

  it('rejects bad worker counts', async () => {
    for (const workers of [0, -1, 1.5, 'many'] as any[]) {
      await expect(attribute(model, x, { ...caseOptions(occlusionCases[0]), workers })).rejects.toMatchObject({ code: 'invalid_option' });
    }
  });

  it('runs a model without the hook in this thread, saying so for an explicit count', async () => {
    const fn = asModel((images: tf.Tensor4D) => model.predict(images), { outputKind: 'logits' });
    const warnings: string[] = [];
    const options = { ...caseOptions(occlusionCases[0]), onWarning: (m: string) => warnings.push(m) };
    const pooled = await attribute(fn, x, { ...options, workers: 2 });
    expect(pooled.workers).toBe(1);
    expect(warnings.join('\n')).toMatch(/cannot run in worker threads/);
    warnings.length = 0;
    await attribute(fn, x, { ...options, workers: 'auto' });
    expect(warnings).toEqual([]);
    expect(pooled.values).toEqual((await attribute(model, x, caseOptions(occlusionCases[0]))).values);
  });
});

describe('occlusion workers errors and lifetime', () => {
  it('surfaces a worker error as the worker’s ExplainError', async () => {
    const dir = tempDir();
    cpSync(join(REFERENCE, 'model'), dir, { recursive: true });
    const model = await loadModel(join(dir, 'model.json'));
    const x = tf.tensor4d(imageOf('rand0'));
    try {
      removeDir(dir); // the workers load the model again from its source, which is gone now
      const error = await attribute(model, x, { ...caseOptions(occlusionCases[0]), workers: 2 }).catch((e) => e);
      expect(error).toMatchObject({ name: 'ExplainError', code: 'model_not_found' });
      expect(error.message).toContain(join(dir, 'model.json'));
      // Failed workers leave the pool; the next call spawns new ones, which fail the same way.
      await expect(attribute(model, x, { ...caseOptions(occlusionCases[0]), workers: 2 })).rejects.toMatchObject({ code: 'model_not_found' });
      // In this thread the loaded model still works.
      expect((await attribute(model, x, caseOptions(occlusionCases[0]))).workers).toBe(1);
    } finally {
      x.dispose();
      model.dispose();
      removeDir(dir);
    }
  });

  it('hands a downloaded model to its workers instead of downloading it again', async () => {
    const server = await serveFolder(join(REFERENCE, 'model'));
    const model = await loadModel(`${server.url}model.json`);
    const x = tf.tensor4d(imageOf('rand0'));
    try {
      const before = Object.fromEntries(server.requests);
      expect(before['/model.json']).toBe(1);
      const pooled = await attribute(model, x, { ...caseOptions(occlusionCases[0], 7), workers: 2 });
      expect(pooled.workers).toBe(2);
      expect(pooled.values).toEqual((await attribute(model, x, caseOptions(occlusionCases[0], 7))).values);
      expect(Object.fromEntries(server.requests)).toEqual(before);
    } finally {
      x.dispose();
      model.dispose();
      await server.close();
    }
  });

  it('rejects calls after dispose()', async () => {
    const model = await loadModel(join(REFERENCE, 'model', 'model.json'));
    const x = tf.tensor4d(imageOf('rand0'));
    await attribute(model, x, { ...caseOptions(occlusionCases[0], 7), workers: 2 });
    model.dispose();
    await expect(attribute(model, x, { ...caseOptions(occlusionCases[0], 7), workers: 2 })).rejects.toThrow();
    expect(workerPoolOf(model)!.threadIds).toEqual([]);
    x.dispose();
  });

  for (const dispose of [true, false]) {
    it(`lets the process exit ${dispose ? 'after dispose()' : 'without dispose() (idle workers are unref’d)'}`, async () => {
      const script = `
        import * as tf from '@tensorflow/tfjs-core';
        import { Occlusion } from '@easy-explain/core/internal';
        import { loadModel, setupBackend } from '@easy-explain/backend-node';
        await setupBackend('wasm');
        const model = await loadModel(${JSON.stringify(join(REFERENCE, 'model', 'model.json'))});
        const x = tf.randomUniform([1, 32, 32, 3]);
        const map = await new Occlusion(model).attribute(x, { target: 0, slidingWindowShapes: [8, 8, 3], strides: 4, perturbationsPerEval: 7, workers: 2 });
        map.dispose();
        ${dispose ? 'model.dispose();' : ''}
        console.log('done');
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: PACKAGE, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      let doneAt = 0;
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('done') && !doneAt) doneAt = performance.now();
      });
      child.stderr.on('data', (d) => (err += d));
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await new Promise<number | null>((ok) => child.on('exit', (c) => ok(c)));
      clearTimeout(killer);
      expect(err).toBe('');
      expect(code).toBe(0);
      expect(out.trim()).toBe('done');
      // From the last line to exit: no worker holds the process open.
      expect(performance.now() - doneAt).toBeLessThan(5_000);
    });
  }
});

describe('occlusion workers on MobileNet', () => {
  let model: LoadedModel;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    model = await loadModel(MOBILENET);
    const photo = await loadImage(image('chelsea.png'));
    x = preprocess(photo, 'mobilenet');
    photo.dispose();
  });
  afterAll(() => {
    x.dispose();
    model.dispose();
  });

  for (const incremental of [true, false]) {
    it(`2 workers equal 1 thread bit for bit (window 45, stride 22, incremental ${incremental})`, async () => {
      const before = tf.memory().numTensors;
      const options: OcclusionOptions = { target: 285, slidingWindowShapes: [45, 45, 3], strides: [22, 22, 3], incremental };
      const single = await attribute(model, x, options);
      const pooled = await attribute(model, x, { ...options, workers: 2 });
      expect(pooled.workers).toBe(2);
      expect(pooled.values).toEqual(single.values);
      expect(single.values.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeGreaterThan(0);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe('--workers in the CLI', () => {
  const capture = captureStream;

  it('records the workers used in explanation.json, and refuses bad counts', async () => {
    const dir = tempDir('ee-workers-');
    try {
      for (const workers of ['1', '2']) {
        const stdout = capture();
        const stderr = capture();
        const args = [image('chelsea.png'), '--model', MOBILENET, '--window', '75', '--stride', '75', '--out', join(dir, workers), '--workers', workers, '--json'];
        expect(await runCli(args, { stdout: stdout.stream, stderr: stderr.stream }), stderr.text()).toBe(0);
        expect(JSON.parse(stdout.text()).method.parameters.workers).toBe(Number(workers));
      }
      const stderr = capture();
      expect(await runCli([image('chelsea.png'), '--workers', '0'], { stdout: capture().stream, stderr: stderr.stream })).toBe(2);
      expect(stderr.text()).toMatch(/--workers .*≥ 1; got "0"/);
      expect(HELP).toMatch(/--workers <auto\|N>/);
    } finally {
      removeDir(dir);
    }
  });
});
