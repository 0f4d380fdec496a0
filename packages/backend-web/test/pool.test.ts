// The browser's occlusion pool run in Node: helpers are in-thread stand-ins for Web Workers (each message is
// structured-cloned and delivered on a later task, as a real worker's would be), so the pool's protocol, merging,
// errors and lifetime are tested here; apps/demo/test/e2e.test.ts runs it on real Web Workers in Chromium.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { AblationCam, deletion, Occlusion, ScoreCam, type OcclusionOptions } from '@easy-explain/core/internal';
import { loadModel, serveOcclusionHelper, setupBackend, type LoadedModel } from '../src/index.js';
import { withOcclusionHelpers } from '../src/pool.js';

const REFERENCE = fileURLToPath(new URL('../../../../shared/reference/', import.meta.url));
const readJson = (name: string) => JSON.parse(readFileSync(join(REFERENCE, name), 'utf8'));
const occlusionCases = readJson('occlusion.json').cases as any[];
const inputs = readJson('inputs.json').inputs as any[];

function caseOptions(c: any): OcclusionOptions {
  const p = c.params.nhwc_equivalent;
  // 3 per batch spreads each case's 50–100 windows over every worker.
  return { target: c.target, slidingWindowShapes: p.sliding_window_shapes, strides: p.strides, baselines: p.baselines, perturbationsPerEval: 3 };
}

/** A stand-in Web Worker running serveOcclusionHelper; `crash` makes it fail like a script that cannot load. */
function fakeHelper(log: { spawned: number; terminated: number }, crash = false) {
  log.spawned++;
  const deliver = (to: { onmessage: ((e: MessageEvent) => void) | null }, message: unknown, transfer: Transferable[] = []) =>
    setTimeout(() => to.onmessage?.({ data: structuredClone(message, { transfer }) } as MessageEvent));
  let alive = true;
  const worker = {
    onmessage: null as ((e: MessageEvent) => void) | null,
    onerror: null as ((e: ErrorEvent) => void) | null,
    postMessage(message: unknown) {
      if (!alive) return;
      if (crash) setTimeout(() => worker.onerror?.({ message: 'Failed to fetch helper.js' } as ErrorEvent));
      else deliver(scope, message);
    },
    terminate() {
      if (alive) log.terminated++;
      alive = false;
    },
  };
  const scope = {
    onmessage: null as ((e: MessageEvent) => void) | null,
    postMessage: (message: unknown, transfer?: Transferable[]) => alive && deliver(worker, message, transfer),
  };
  serveOcclusionHelper(scope);
  return worker;
}

async function artifacts(): Promise<tf.io.ModelArtifacts> {
  const json = readJson('model/model.json');
  const weights = readFileSync(join(REFERENCE, 'model', 'weights.bin'));
  return tf.io.getModelArtifactsForJSONSync(json, json.weightsManifest.flatMap((g: any) => g.weights), new Uint8Array(weights).buffer);
}

async function attribute(model: LoadedModel, x: tf.Tensor4D, options: OcclusionOptions) {
  const occlusion = new Occlusion(model);
  const map = await occlusion.attribute(x, options);
  try {
    return { values: (await map.data()) as Float32Array, workers: occlusion.workers };
  } finally {
    map.dispose();
  }
}

let plain: LoadedModel;
const images = new Map<string, tf.Tensor4D>();
beforeAll(async () => {
  await setupBackend('cpu');
  plain = await loadModel(await artifacts());
  for (const i of inputs) images.set(i.name, tf.tensor4d(i.image));
});
afterAll(() => {
  images.forEach((x) => x.dispose());
  plain.dispose();
});

describe('occlusion helper pool', () => {
  it('2 and 3 workers equal one worker bit for bit and match Captum, on every reference case', async () => {
    const log = { spawned: 0, terminated: 0 };
    const model = withOcclusionHelpers(plain, () => fakeHelper(log), () => ({}));
    // The first pooled call builds the helpers' models (in this thread here); after that, calls leave no tensors.
    await attribute(model, images.get('rand0')!, { ...caseOptions(occlusionCases[0]), workers: 3 });
    const before = tf.memory().numTensors;
    for (const c of occlusionCases) {
      const x = images.get(c.input)!;
      const single = await attribute(model, x, caseOptions(c));
      expect(single.workers).toBe(1);
      for (const workers of [2, 3]) {
        const pooled = await attribute(model, x, { ...caseOptions(c), workers });
        expect(pooled.workers).toBe(workers);
        expect(pooled.values, `${c.id}, ${workers} workers`).toEqual(single.values);
      }
      const expected = (c.attribution as number[][][][]).flat(3);
      const worst = expected.reduce((m, v, i) => Math.max(m, Math.abs(v - single.values[i])), 0);
      expect(worst, c.id).toBeLessThanOrEqual(1e-4 * Math.max(c.max_abs, 1e-6));
    }
    expect(tf.memory().numTensors).toBe(before);
    // The pool was made once and reused: 2 helpers for 3 workers (this thread is the third).
    expect(log.spawned).toBe(2);
    expect(model.helpers.workers.length).toBe(2);
  });

  it('ScoreCAM, AblationCAM and deletion on 3 workers equal one worker bit for bit', async () => {
    const model = withOcclusionHelpers(plain, () => fakeHelper({ spawned: 0, terminated: 0 }), () => ({}));
    const x = images.get('rand0')!;
    const map = tf.tidy(() => tf.abs(x));
    for (const Method of [ScoreCam, AblationCam]) {
      const runs = [];
      for (const workers of [1, 3]) {
        const cam = new Method(model, 'relu2');
        const { raw } = await cam.explain(x, { target: 3, batchSize: 3, workers });
        runs.push({ raw: await raw.data(), ranOn: cam.ranOn });
        raw.dispose();
      }
      expect(runs[1].ranOn).toEqual({ runsOn: 'workers', parallel: 3 });
      expect(Math.max(...runs[0].raw)).toBeGreaterThan(0);
      expect(runs[1].raw).toEqual(runs[0].raw);
    }
    const single = await deletion(model, x, map, { target: 3, steps: 12, batchSize: 2 });
    const pooled = await deletion(model, x, map, { target: 3, steps: 12, batchSize: 2, workers: 3 });
    expect(pooled.curves[0].y).toEqual(single.curves[0].y);
    map.dispose();
    await model.helpers.close(); // not model.dispose(): the plain model is shared by every test
  });

  it("'auto' on cpu uses one worker per core, up to 4", async () => {
    const model = withOcclusionHelpers(plain, () => fakeHelper({ spawned: 0, terminated: 0 }), () => ({}));
    // Node 20 has no navigator: the pool then counts one core, as an unknown browser would.
    const cores = Math.min((globalThis as { navigator?: Navigator }).navigator?.hardwareConcurrency || 1, 4);
    const result = await attribute(model, images.get('rand0')!, { ...caseOptions(occlusionCases[0]), workers: 'auto' });
    expect(result.workers).toBe(cores);
    model.helpers.close();
  });

  it('a helper that cannot start fails the call with worker_failed; the next call starts a new one', async () => {
    const log = { spawned: 0, terminated: 0 };
    let crash = true;
    const model = withOcclusionHelpers(plain, () => fakeHelper(log, crash), () => ({}));
    const x = images.get('rand0')!;
    const before = tf.memory().numTensors;
    const error = await attribute(model, x, { ...caseOptions(occlusionCases[0]), workers: 2 }).catch((e) => e);
    expect(error).toMatchObject({ name: 'ExplainError', code: 'worker_failed' });
    expect(error.message).toContain('Failed to fetch helper.js');
    expect(tf.memory().numTensors).toBe(before);
    expect(model.helpers.workers.length).toBe(0);
    crash = false;
    const single = await attribute(model, x, caseOptions(occlusionCases[0]));
    expect((await attribute(model, x, { ...caseOptions(occlusionCases[0]), workers: 2 })).values).toEqual(single.values);
    expect(log.spawned).toBe(2);
    model.helpers.close();
  });

  it('a helper that cannot even be constructed fails the call with worker_failed, leaving no tensors', async () => {
    const model = withOcclusionHelpers(plain, () => {
      throw new Error('Worker scripts are blocked here');
    }, () => ({}));
    const before = tf.memory().numTensors;
    const error = await attribute(model, images.get('rand0')!, { ...caseOptions(occlusionCases[0]), workers: 2 }).catch((e) => e);
    expect(error).toMatchObject({ name: 'ExplainError', code: 'worker_failed' });
    expect(error.message).toContain('Could not start an occlusion worker: Worker scripts are blocked here');
    expect(tf.memory().numTensors).toBe(before);
    expect(model.helpers.workers.length).toBe(0);
  });

  it('a helper whose model cannot be built reports why', async () => {
    const files = plain.files as Extract<LoadedModel['files'], { shards: unknown }>;
    const broken = { ...plain, files: { ...files, shards: new Map([...files.shards].map(([name]) => [name, new Uint8Array(8)])) } } as LoadedModel;
    const model = withOcclusionHelpers(broken, () => fakeHelper({ spawned: 0, terminated: 0 }), () => ({}));
    await expect(attribute(model, images.get('rand0')!, { ...caseOptions(occlusionCases[0]), workers: 2 })).rejects.toMatchObject({
      code: 'invalid_model',
    });
    model.helpers.close();
  });

  it('aborts mid-run with code aborted, and the next call works', async () => {
    const model = withOcclusionHelpers(plain, () => fakeHelper({ spawned: 0, terminated: 0 }), () => ({}));
    const x = images.get('rand0')!;
    await attribute(model, x, { ...caseOptions(occlusionCases[0]), workers: 2 }); // the helper's model, built in this thread
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const options = { ...caseOptions(occlusionCases[0]), workers: 2, onProgress: (done: number) => done > 0 && controller.abort() };
    await expect(attribute(model, x, { ...options, signal: controller.signal })).rejects.toMatchObject({ code: 'aborted' });
    const single = await attribute(model, x, caseOptions(occlusionCases[0]));
    expect((await attribute(model, x, { ...caseOptions(occlusionCases[0]), workers: 2 })).values).toEqual(single.values);
    await new Promise((ok) => setTimeout(ok, 50)); // the abandoned batch finishes in the helpers, then its job ends
    expect(tf.memory().numTensors).toBe(before);
    model.helpers.close();
  });

  it('dispose() ends the helpers; later pooled calls say the model was disposed', async () => {
    const log = { spawned: 0, terminated: 0 };
    const copy = await loadModel(await artifacts());
    const model = withOcclusionHelpers(copy, () => fakeHelper(log), () => ({}));
    const x = images.get('rand0')!;
    await attribute(model, x, { ...caseOptions(occlusionCases[0]), workers: 3 });
    model.dispose();
    expect(log).toEqual({ spawned: 2, terminated: 2 });
    // The model itself is gone, so the call fails before it reaches the pool (as it would with one worker).
    await expect(attribute(model, x, { ...caseOptions(occlusionCases[0]), workers: 2 })).rejects.toThrow(/disposed/);
    await expect(model.helpers.acquire(1)).rejects.toMatchObject({ code: 'invalid_model' });
  });
});
