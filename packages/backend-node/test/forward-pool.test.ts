// Forward-only methods and metrics (ScoreCAM, AblationCAM, deletion, insertion) on worker threads and on the native
// engine: the same numbers as one thread (bit for bit on TF.js workers, within 1e-4 of the maximum natively), no
// tensors left behind, abort at once with the workers still usable. Workers run the built dist (global-setup.ts).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { AblationCam, deletion, forwardEngineOf, setForwardEngine, infidelity, insertion, preprocess, ScoreCam, type CurveOptions } from '@easy-explain/core/internal';
import { loadImage, loadModel, setupBackend, type LoadedModel } from '@easy-explain/backend-node';
import { runCli } from '../src/run-cli.js';
import { AUTO_WORKERS, image, MOBILENET, removeDir, SHARED, tempDir, captureStream, relativeError } from './helpers.js';

const TINY = join(SHARED, 'models', 'onnx', 'tiny_cnn.onnx');
const LAYER = 'conv_pw_1_relu'; // 48 channels at 112×112: 48 masked or ablated copies per map

type Cam = typeof ScoreCam | typeof AblationCam;

async function camMaps(Method: Cam, model: LoadedModel, x: tf.Tensor4D, options: Record<string, unknown>, layer?: string) {
  const cam = new Method(model, layer);
  const { raw, final, targets } = await cam.explain(x, options);
  try {
    return { raw: (await raw.data()) as Float32Array, final: (await final.data()) as Float32Array, targets, ranOn: cam.ranOn };
  } finally {
    tf.dispose([raw, final]);
  }
}

/** max |a − b| / max |b|. */
beforeAll(async () => {
  await setupBackend('wasm');
});

describe('forward-only methods on TF.js workers (MobileNet)', () => {
  let model: LoadedModel;
  let x: tf.Tensor4D;
  let saliencyLike: tf.Tensor4D;
  beforeAll(async () => {
    model = await loadModel(MOBILENET);
    const photo = await loadImage(image('chelsea.png'));
    x = preprocess(photo, 'mobilenet');
    photo.dispose();
    // A fixed map for the curves: the input's own values rank the pixels.
    saliencyLike = tf.tidy(() => tf.abs(x));
  });
  afterAll(() => {
    tf.dispose([x, saliencyLike]);
    model.dispose();
  });

  for (const [name, Method, batchSize] of [['ScoreCAM', ScoreCam, 8], ['AblationCAM', AblationCam, 16]] as const) {
    it(`${name} on 2 workers equals one thread bit for bit, and leaves no tensors`, async () => {
      const options = { target: 281, batchSize };
      const before = tf.memory().numTensors;
      const single = await camMaps(Method, model, x, { ...options, workers: 1 }, LAYER);
      const progress: number[] = [];
      const pooled = await camMaps(Method, model, x, { ...options, workers: 2, onProgress: (done: number) => progress.push(done) }, LAYER);
      expect(tf.memory().numTensors).toBe(before);
      expect(single.ranOn).toEqual({ runsOn: 'thread', parallel: 1 });
      expect(pooled.ranOn).toEqual({ runsOn: 'workers', parallel: 2 });
      expect(Math.max(...single.raw)).toBeGreaterThan(0);
      expect(pooled.raw).toEqual(single.raw);
      expect(pooled.final).toEqual(single.final);
      // 48 channels in batches of `batchSize`, reported in order.
      expect(progress[progress.length - 1]).toBe(48);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
    });
  }

  it('deletion and insertion on 2 workers equal one thread bit for bit, and leave no tensors', async () => {
    const options: CurveOptions = { target: 281, steps: 20, batchSize: 4 };
    const before = tf.memory().numTensors;
    for (const metric of [deletion, insertion]) {
      const single = await metric(model, x, saliencyLike, { ...options, workers: 1 });
      const progress: number[] = [];
      const pooled = await metric(model, x, saliencyLike, { ...options, workers: 2, onProgress: (done) => progress.push(done) });
      expect(pooled.curves[0].y).toEqual(single.curves[0].y);
      expect(pooled.values).toEqual(single.values);
      expect(progress).toEqual([4, 8, 12, 16, 20, 21]);
      // The probability moves: the first point is the photo's, the last the substrate's.
      expect(single.curves[0].y[0]).not.toBe(single.curves[0].y[20]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('infidelity scores its perturbed inputs on 2 workers with the one-thread value bit for bit', async () => {
    const options = { target: 281, nPerturbSamples: 6, batchSize: 2, seed: 5 };
    const before = tf.memory().numTensors;
    const single = await infidelity(model, x, saliencyLike, { ...options, workers: 1 });
    const pooled = await infidelity(model, x, saliencyLike, { ...options, workers: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(single.values[0]).toBeGreaterThan(0);
    expect(pooled.values).toEqual(single.values);
  });

  it('ScoreCAM aborts mid-run with code aborted at once, and the workers stay usable', async () => {
    const options = { target: 281, batchSize: 8 };
    const reference = await camMaps(ScoreCam, model, x, { ...options, workers: 1 }, LAYER);
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    let calls = 0;
    let abortedAt = 0;
    // The last layer: 768 masked copies in 96 batches, far more than run before the abort.
    const run = camMaps(ScoreCam, model, x, {
      ...options,
      workers: 2,
      signal: controller.signal,
      onProgress: () => {
        if (++calls === 1) {
          setTimeout(() => {
            abortedAt = performance.now();
            controller.abort();
          }, 1);
        }
      },
    }, 'conv_pw_13_relu');
    await expect(run).rejects.toMatchObject({ name: 'ExplainError', code: 'aborted' });
    const latency = performance.now() - abortedAt;
    expect(calls).toBeLessThan(5);
    // Rejected without waiting for the batches in flight (a batch of 8 at 224 takes far longer on wasm).
    expect(latency).toBeLessThan(100);
    expect(tf.memory().numTensors).toBe(before);
    const again = await camMaps(ScoreCam, model, x, { ...options, workers: 2 }, LAYER);
    expect(again.ranOn.parallel).toBe(2);
    expect(again.raw).toEqual(reference.raw);
  });

  it('refuses bad worker counts with invalid_option', async () => {
    for (const workers of [0, -1, 1.5, 'many'] as any[]) {
      await expect(new ScoreCam(model, LAYER).explain(x, { target: 1, workers })).rejects.toMatchObject({ code: 'invalid_option' });
      await expect(deletion(model, x, saliencyLike, { target: 1, workers })).rejects.toMatchObject({ code: 'invalid_option' });
    }
  });
});

describe('forward-only methods on the native engine (tiny_cnn.onnx)', () => {
  let native: LoadedModel;
  let tfjs: LoadedModel;
  const warnings: string[] = [];
  let x: tf.Tensor4D;
  let map: tf.Tensor4D;
  beforeAll(async () => {
    native = await loadModel(TINY, { preset: 'unit', engine: 'native', onWarning: (m) => warnings.push(m) });
    tfjs = await loadModel(TINY, { preset: 'unit', engine: 'tfjs' });
    x = tf.tidy(() => tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 11) as tf.Tensor4D);
    map = tf.tidy(() => tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 12) as tf.Tensor4D);
  });
  afterAll(() => {
    tf.dispose([x, map]);
    native.dispose();
    tfjs.dispose();
  });

  it('ScoreCAM scores on onnxruntime within 1e-4 of the maximum of TF.js', async () => {
    const before = tf.memory().numTensors;
    const a = await camMaps(ScoreCam, native, x, { target: 4, batchSize: 4 });
    const b = await camMaps(ScoreCam, tfjs, x, { target: 4, batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    expect(a.ranOn.runsOn).toBe('native');
    expect(b.ranOn.runsOn).toBe('thread');
    const [raw, final] = [relativeError(a.raw, b.raw), relativeError(a.final, b.final)];
    console.log(`native ScoreCAM vs TF.js, of max: raw ${raw.toExponential(2)}, final ${final.toExponential(2)}`);
    expect(raw).toBeLessThan(1e-4);
    expect(final).toBeLessThan(1e-4);
  });

  it('deletion and insertion score on onnxruntime within 1e-4 of TF.js', async () => {
    for (const metric of [deletion, insertion]) {
      const a = await metric(native, x, map, { target: 4, steps: 16, batchSize: 5 });
      const b = await metric(tfjs, x, map, { target: 4, steps: 16, batchSize: 5 });
      const error = relativeError(a.curves[0].y, b.curves[0].y);
      console.log(`native ${a.metric} vs TF.js: curve ${error.toExponential(2)} of max, AUC ${a.values[0]} vs ${b.values[0]}`);
      expect(error).toBeLessThan(1e-4);
      expect(Math.abs(a.values[0] - b.values[0])).toBeLessThan(1e-4);
    }
  });

  it('AblationCAM runs natively on the graph cut at its layer, within 1e-4 of the maximum of TF.js', async () => {
    warnings.length = 0;
    const before = tf.memory().numTensors;
    const a = await camMaps(AblationCam, native, x, { target: 4, batchSize: 5, onWarning: (m: string) => warnings.push(m) });
    const b = await camMaps(AblationCam, tfjs, x, { target: 4, batchSize: 5 });
    expect(tf.memory().numTensors).toBe(before);
    expect(warnings).toEqual([]);
    expect(a.ranOn.runsOn).toBe('native');
    const [raw, final] = [relativeError(a.raw, b.raw), relativeError(a.final, b.final)];
    console.log(`native AblationCAM vs TF.js, of max: raw ${raw.toExponential(2)}, final ${final.toExponential(2)}`);
    expect(raw).toBeLessThan(1e-4);
    expect(final).toBeLessThan(1e-4);
  });

  it('AblationCAM on a layer the engine cannot start at runs on TF.js and says so', async () => {
    // The input: no ONNX node outputs it, so the graph has no cut there.
    expect(forwardEngineOf(native)!({ layer: native.layerNames!()[0] })?.layers).toBe(false);
    expect(forwardEngineOf(native)!({ layer: 'relu3/Relu_output_0' })?.layers).toBe(true);
    const reference = await camMaps(AblationCam, tfjs, x, { target: 4 });
    // An engine that takes whole images only, on the TF.js model: AblationCAM must not use it.
    setForwardEngine(tfjs, () => ({ parallel: 1, layers: false, runsOn: 'native', run: () => Promise.reject(new Error('not here')) }));
    try {
      warnings.length = 0;
      const a = await camMaps(AblationCam, tfjs, x, { target: 4, onWarning: (m: string) => warnings.push(m) });
      expect(warnings).toEqual(['AblationCAM runs on TF.js: the native engine cannot run the network from layer "relu3/Relu_output_0".']);
      expect(a.ranOn.runsOn).toBe('thread');
      expect(a.raw).toEqual(reference.raw);
    } finally {
      setForwardEngine(tfjs, undefined);
    }
  });
});

describe('score_cam and deletion/insertion in the CLI', () => {
  const capture = captureStream;

  it("run on the workers by default ('auto'), with the numbers of one thread", async () => {
    const dir = tempDir('ee-forward-');
    try {
      const runs = [];
      for (const workers of [[], ['--workers', '1']]) {
        const stdout = capture();
        const stderr = capture();
        const args = [image('chelsea.png'), '--model', MOBILENET, '--method', 'score_cam', '--layer', 'conv_pw_1_relu',
          '--metrics', 'deletion,insertion', '--metric-steps', '16', '--out', join(dir, String(runs.length)), '--json', ...workers];
        expect(await runCli(args, { stdout: stdout.stream, stderr: stderr.stream }), stderr.text()).toBe(0);
        runs.push(JSON.parse(stdout.text()));
      }
      const [auto, single] = runs;
      expect(auto.method.parameters.workers).toBe(AUTO_WORKERS);
      expect(auto.method.parameters.ranOn).toBe(AUTO_WORKERS > 1 ? 'workers' : 'thread');
      expect(single.method.parameters.workers).toBe(1);
      expect(auto.metrics.deletion.values[0]).toBeGreaterThan(0);
      expect(auto.metrics).toEqual(single.metrics);
    } finally {
      removeDir(dir);
    }
  });
});
