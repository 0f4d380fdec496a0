// The native engine (onnxruntime-node) against Captum: the fixture's occlusion cases on tiny_cnn.onnx (the same
// network and weights as ../shared/reference/model) and the stored ResNet-18 map of ../shared/reference/onnx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Occlusion, type AblationContext, type AblationScorer, type Model } from '@easy-explain/core/internal';
import { loadModel, OnnxEngine, setupBackend, type LoadedModel } from '@easy-explain/backend-node';
import { CHECKED_BYTES, fasterScorer, nativeThreads, ScorerTrial, type WorkerEngineOptions } from '../src/native/onnx-engine';
import { cropLength, FusedIncremental } from '../src/native/onnx-fused';
import { IncrementalOnnx } from '../src/native/onnx-incremental';
import { graphModel, nodeProto, readOnnx, tensorProto } from '../src/native/onnx-proto';
import { loadOnnxRuntime, type OnnxRuntime, type OrtTensor } from '../src/native/onnx-runtime';
import { SHARED } from './helpers';

const REFERENCE = join(SHARED, 'reference');
const ONNX = join(SHARED, 'models', 'onnx');
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const occlusion = readJson(join(REFERENCE, 'occlusion.json'));
const inputs = readJson(join(REFERENCE, 'inputs.json'));
const imageOf = (name: string) => inputs.inputs.find((i: any) => i.name === name).image;
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const readBin = (file: string) => {
  const bytes = readFileSync(join(REFERENCE, 'onnx', file));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};
/** A Model that must never run: the native engine scores the input and its ablated copies itself. */
const unusedModel: Model = {
  predict() {
    throw new Error('the TF.js model was run although the native engine scores');
  },
  outputKind: 'logits',
};

describe('OnnxEngine on tiny_cnn.onnx vs Captum', () => {
  let engine: OnnxEngine;
  let model: LoadedModel;
  beforeAll(async () => {
    await setupBackend('cpu');
    engine = (await OnnxEngine.create(readFileSync(join(ONNX, 'tiny_cnn.onnx')), { workers: 1, threads: 1 }))!;
    expect(engine).toBeDefined();
    model = await loadModel(join(REFERENCE, 'model', 'model.json'));
  });
  afterAll(async () => {
    await engine.dispose(model);
    model.dispose();
  });

  for (const c of occlusion.cases) {
    it(c.id, async () => {
      const { sliding_window_shapes, strides, baselines } = c.params.nhwc_equivalent;
      const before = tf.memory().numTensors;
      const x = tf.tensor4d(imageOf(c.input));
      const options = { target: c.target, slidingWindowShapes: sliding_window_shapes, strides, baselines };
      const native = await new Occlusion(unusedModel).attribute(x, { ...options, scorer: engine.scorer, perturbationsPerEval: 7 });
      const tfjs = await new Occlusion(model).attribute(x, { ...options, incremental: false });
      const expected = (c.attribution as number[][][][]).flat(3);
      // Captum's own tolerance for this fixture in the TF.js tests: 1e-4 of the map's maximum (float32 noise ~1e-6).
      const atol = 1e-4 * Math.max(c.max_abs, 1e-6);
      const values = native.dataSync();
      const vsCaptum = maxAbsDiff(values, expected);
      const vsTfjs = maxAbsDiff(values, tfjs.dataSync());
      expect(vsCaptum).toBeLessThan(atol);
      expect(vsTfjs).toBeLessThan(atol);
      tf.dispose([x, native, tfjs]);
      expect(tf.memory().numTensors).toBe(before);
      console.log(`native ${c.id}: max |Δ| vs Captum ${vsCaptum.toExponential(2)}, vs TF.js ${vsTfjs.toExponential(2)} (atol ${atol.toExponential(2)})`);
    });
  }

  it('scores a model it is attached to by default, the same bits as an explicit scorer', async () => {
    const c = occlusion.cases[0];
    const { sliding_window_shapes, strides, baselines } = c.params.nhwc_equivalent;
    const x = tf.tensor4d(imageOf(c.input));
    const options = { target: c.target, slidingWindowShapes: sliding_window_shapes, strides, baselines };
    const explicit = await new Occlusion(model).attribute(x, { ...options, scorer: engine.scorer });
    engine.attachTo(model);
    const before = tf.memory().numTensors;
    const attached = await new Occlusion(model).attribute(x, { ...options, workers: 2 });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(maxAbsDiff(attached.dataSync(), explicit.dataSync())).toBe(0);
    // Detached, TF.js scores again: equal within float32 noise, not bit for bit.
    await engine.dispose(model);
    engine = (await OnnxEngine.create(readFileSync(join(ONNX, 'tiny_cnn.onnx')), { workers: 1, threads: 1 }))!;
    const tfjs = await new Occlusion(model).attribute(x, { ...options, incremental: false });
    const gap = maxAbsDiff(tfjs.dataSync(), explicit.dataSync());
    expect(gap).toBeGreaterThan(0);
    expect(gap).toBeLessThan(1e-4 * c.max_abs);
    tf.dispose([x, explicit, attached, tfjs]);
  });

  it('rejects bytes that are not an ONNX model, and bad thread counts', async () => {
    const corrupt = readFileSync(join(ONNX, 'tiny_cnn.onnx')).subarray(0, 1000);
    await expect(OnnxEngine.create(corrupt)).rejects.toMatchObject({ name: 'ExplainError', code: 'invalid_model' });
    await expect(OnnxEngine.create(new TextEncoder().encode('not a model'))).rejects.toMatchObject({ code: 'invalid_model' });
    await expect(OnnxEngine.create(new Uint8Array(8), { threads: 0 })).rejects.toMatchObject({ code: 'invalid_option' });
    await expect(OnnxEngine.create(corrupt, { incremental: true })).rejects.toMatchObject({ code: 'invalid_model' });
  });

  it("a worker's engine (bytes its caller's engine checked) opens the whole network's session on first use, with the same scores", async () => {
    const runtime = (await loadOnnxRuntime())!;
    const bytes = readFileSync(join(ONNX, 'tiny_cnn.onnx'));
    const probe = tf.tensor4d(imageOf('rand0'));
    const [, h, w, c] = probe.shape;
    probe.dispose();
    const data = Float32Array.from({ length: c * h * w }, (_, i) => Math.sin(i));
    const before = tf.memory().numTensors;
    const create = runtime.InferenceSession.create;
    let made = 0;
    runtime.InferenceSession.create = (...args: Parameters<typeof create>) => (made++, create.apply(runtime.InferenceSession, args));
    try {
      const lazy = (await OnnxEngine.create(bytes, { workers: 1, threads: 1, [CHECKED_BYTES]: true } as WorkerEngineOptions))!;
      expect(made).toBe(0);
      const { scores } = await lazy.predictNCHW(data, [1, c, h, w]);
      await lazy.predictNCHW(data, [1, c, h, w]);
      expect(made).toBe(1);
      expect(Array.from(scores)).toEqual(Array.from((await engine.predictNCHW(data, [1, c, h, w])).scores));
      await lazy.dispose();
      // Bytes nobody checked still fail as a bad model, at first use.
      const corrupt = (await OnnxEngine.create(bytes.subarray(0, 1000), { incremental: false, [CHECKED_BYTES]: true } as WorkerEngineOptions))!;
      await expect(corrupt.predictNCHW(data, [1, c, h, w])).rejects.toMatchObject({ code: 'invalid_model' });
      await corrupt.dispose();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      runtime.InferenceSession.create = create;
    }
  });

  it('rejects a target the ONNX model does not have', async () => {
    const x = tf.tensor4d(imageOf('rand0'));
    const before = tf.memory().numTensors;
    // f(x) runs beside the first batch: its check of the class count is the error reported, for plain and
    // progressive runs alike.
    for (const progressive of [false, true]) {
      const run = new Occlusion(unusedModel).attribute(x, { target: 10, slidingWindowShapes: [8, 8, 3], strides: 8, scorer: engine.scorer, progressive });
      await expect(run).rejects.toMatchObject({ code: 'invalid_target', message: expect.stringContaining('integer from 0 to') });
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

describe('OnnxEngine on the 224×224 ONNX models vs Captum (window 56, stride 28)', () => {
  const index = readJson(join(REFERENCE, 'onnx', 'index.json'));
  const occlude = async (engine: OnnxEngine, name: string, perturbationsPerEval?: number) => {
    const entry = index.arrays[`${name}/occlusion_56_28`];
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(readBin(index.arrays[`${name}/input`].file), [1, 224, 224, 3]);
    const map = await new Occlusion(unusedModel).attribute(x, {
      target: entry.target,
      slidingWindowShapes: [56, 56, 3],
      strides: [28, 28, 3],
      baselines: 0,
      scorer: engine.scorer,
      perturbationsPerEval,
    });
    const values = map.dataSync() as Float32Array;
    tf.dispose([x, map]);
    expect(tf.memory().numTensors).toBe(before);
    return { values, reference: readBin(entry.file), maxAbs: entry.max_abs as number };
  };

  /** Each engine's Occlusion map of `x`. */
  const mapsOf = async (engines: OnnxEngine[], x: tf.Tensor4D, options: Parameters<Occlusion['attribute']>[1]) => {
    const maps: Float32Array[] = [];
    for (const engine of engines) {
      const map = await new Occlusion(unusedModel).attribute(x, { ...options, scorer: engine.scorer });
      maps.push(map.dataSync() as Float32Array);
      map.dispose();
    }
    return maps;
  };

  // Occlusion differences are sums of float32 logit differences; two float32 implementations agree to ~1e-5 of the
  // maximum (../shared/reference/onnx/README.md), so 1e-4 of the maximum is the bar, against Captum and between
  // our own full and incremental passes alike.
  for (const name of ['resnet18', 'mobilenet_v1_0.75', 'squeezenet1_1']) {
    it(`${name}: full forwards and incremental inference match Captum within 1e-4 of the maximum`, async () => {
      const bytes = readFileSync(join(ONNX, `${name}.onnx`));
      const full = (await OnnxEngine.create(bytes, { workers: 1, threads: 2, incremental: false }))!;
      const incremental = (await OnnxEngine.create(bytes, { workers: 1, threads: 2, incremental: true }))!;
      expect(full.incremental).toBeUndefined();
      expect(incremental.incremental).toBeDefined();
      const a = await occlude(full, name);
      const b = await occlude(incremental, name);
      const saved = 1 - incremental.incremental!.flops.incremental / incremental.incremental!.flops.full;
      await Promise.all([full.dispose(), incremental.dispose()]);
      const errors = [maxAbsDiff(a.values, a.reference), maxAbsDiff(b.values, a.reference), maxAbsDiff(a.values, b.values)].map((e) => e / a.maxAbs);
      console.log(`native ${name} 56/28, of max: full vs Captum ${errors[0].toExponential(2)}, incremental vs Captum ${errors[1].toExponential(2)}, incremental vs full ${errors[2].toExponential(2)}; multiply-adds saved ${(saved * 100).toFixed(1)} %`);
      for (const e of errors) expect(e).toBeLessThan(1e-4);
      // Measured: ResNet-18 34.9 %, MobileNet v1 39.8 %, SqueezeNet 23.6 % of the multiply-adds skipped.
      expect(saved).toBeGreaterThan(0.2);
    });
  }

  it('mobilenet_v2 (BatchNormalization nodes kept): incremental equals full forwards within 1e-4 of the maximum', async () => {
    const bytes = readFileSync(join(ONNX, 'mobilenet_v2.onnx'));
    const full = (await OnnxEngine.create(bytes, { workers: 1, threads: 2, incremental: false }))!;
    const incremental = (await OnnxEngine.create(bytes, { workers: 1, threads: 2, incremental: true }))!;
    const a = await occlude(full, 'mobilenet_v2');
    const b = await occlude(incremental, 'mobilenet_v2');
    await Promise.all([full.dispose(), incremental.dispose()]);
    // Against Captum both are ~1.3e-4 of the maximum: random BatchNorm statistics amplify float32 rounding.
    expect(maxAbsDiff(a.values, b.values) / a.maxAbs).toBeLessThan(1e-4);
  });

  it("easy-explain's job (45/9) on MobileNet v1: crops in one graph per batch equal full forwards within 1e-4 of the maximum, on one session and on 2 workers", async () => {
    const bytes = readFileSync(join(ONNX, 'mobilenet_v1_0.75.onnx'));
    const full = (await OnnxEngine.create(bytes, { workers: 1, threads: 2, incremental: false }))!;
    const one = (await OnnxEngine.create(bytes, { workers: 1, threads: 2 }))!;
    const two = (await OnnxEngine.create(bytes, { workers: 2, threads: 1 }))!;
    expect([one.mode, two.mode]).toEqual([true, true]);
    const x = tf.tensor4d(readBin(index.arrays['mobilenet_v1_0.75/input'].file), [1, 224, 224, 3]);
    const before = tf.memory().numTensors;
    const maps = await mapsOf([full, one, two], x, { target: 281, slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3], baselines: 0, progressive: true });
    expect(tf.memory().numTensors).toBe(before);
    // Crops stop where they cover 80 % of a layer: about 40 % of the multiply-adds are skipped for this window.
    const saved = 1 - one.incremental!.flops.incremental / one.incremental!.flops.full;
    await Promise.all([full.dispose(), one.dispose(), two.dispose()]);
    const maxAbs = maps[0].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxAbs).toBeGreaterThan(0);
    console.log(`native mobilenet_v1_0.75 45/9: incremental vs full ${(maxAbsDiff(maps[0], maps[1]) / maxAbs).toExponential(2)}, 2 workers vs full ${(maxAbsDiff(maps[0], maps[2]) / maxAbs).toExponential(2)} of max; multiply-adds saved ${(saved * 100).toFixed(1)} %`);
    expect(maxAbsDiff(maps[0], maps[1]) / maxAbs).toBeLessThan(1e-4);
    expect(maxAbsDiff(maps[0], maps[2]) / maxAbs).toBeLessThan(1e-4);
    expect(saved).toBeGreaterThan(0.35);
    x.dispose();
  });

  it('jobs one after another and at once on one engine each get their own map', async () => {
    await setupBackend('cpu');
    const bytes = readFileSync(join(ONNX, 'mobilenet_v1_0.75.onnx'));
    const full = (await OnnxEngine.create(bytes, { workers: 1, threads: 2, incremental: false }))!;
    const engine = (await OnnxEngine.create(bytes, { workers: 1, threads: 2 }))!;
    const before = tf.memory().numTensors;
    const images = ['mobilenet_v1_0.75/input', 'resnet18/input'].map((name) => tf.tensor4d(readBin(index.arrays[name].file), [1, 224, 224, 3]));
    const options = { target: 281, slidingWindowShapes: [56, 56, 3] as [number, number, number], strides: [28, 28, 3] as [number, number, number], baselines: 0, perturbationsPerEval: 8 };
    const expected = await Promise.all(images.map(async (x) => (await mapsOf([full], x, options))[0]));
    const oneByOne = [(await mapsOf([engine], images[0], options))[0], (await mapsOf([engine], images[1], options))[0]];
    const atOnce = await Promise.all(images.map(async (x) => (await mapsOf([engine], x, options))[0]));
    for (const maps of [oneByOne, atOnce]) {
      maps.forEach((map, i) => {
        const maxAbs = expected[i].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expect(maxAbs).toBeGreaterThan(0);
        expect(maxAbsDiff(map, expected[i]) / maxAbs).toBeLessThan(1e-4);
      });
    }
    // The two images' maps differ far beyond that bar: a job reading the other's activations would fail above.
    expect(maxAbsDiff(expected[0], expected[1])).toBeGreaterThan(0.1 * expected[0].reduce((m, v) => Math.max(m, Math.abs(v)), 0));
    tf.dispose(images);
    expect(tf.memory().numTensors).toBe(before);
    await Promise.all([full.dispose(), engine.dispose()]);
  });

  it('a batch of two images runs the per-piece scorer and equals full forwards within 1e-4 of the maximum', async () => {
    const bytes = readFileSync(join(ONNX, 'mobilenet_v1_0.75.onnx'));
    const full = (await OnnxEngine.create(bytes, { workers: 1, threads: 2, incremental: false }))!;
    const incremental = (await OnnxEngine.create(bytes, { workers: 1, threads: 2 }))!;
    const image = readBin(index.arrays['mobilenet_v1_0.75/input'].file);
    const pair = new Float32Array(image.length * 2);
    pair.set(image);
    pair.set(image.map((v) => -v), image.length);
    const x = tf.tensor4d(pair, [2, 224, 224, 3]);
    const maps = await mapsOf([full, incremental], x, { target: [281, 3], slidingWindowShapes: [56, 56, 3], strides: [28, 28, 3], baselines: 0 });
    const saved = 1 - incremental.incremental!.flops.incremental / incremental.incremental!.flops.full;
    await Promise.all([full.dispose(), incremental.dispose()]);
    const maxAbs = maps[0].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxAbsDiff(maps[0], maps[1]) / maxAbs).toBeLessThan(1e-4);
    expect(saved).toBeGreaterThan(0.2);
    x.dispose();
  });

  /** MobileNet v1 on the shared photo, three 45-px windows down the diagonal, and full forward passes' scores for them. */
  const fusedCase = async () => {
    const bytes = readFileSync(join(ONNX, 'mobilenet_v1_0.75.onnx'));
    const ort = (await loadOnnxRuntime())!;
    const full = (await OnnxEngine.create(bytes, { workers: 1, threads: 1, incremental: false }))!;
    const image = readBin(index.arrays['mobilenet_v1_0.75/input'].file);
    const zeros = new Float32Array(image.length);
    const context = { inputData: image, baseline: zeros, shape: [1, 224, 224, 3], targets: [281], perturbationsPerEval: 27 } as unknown as AblationContext;
    const regions = [0, 90, 179].map((y) => ({ start: [y, y, 0] as [number, number, number], end: [y + 45, y + 45, 3] as [number, number, number] }));
    const expected = Array.from(await (full.fullForwardScorer(context) as AblationScorer).scoreRegions(regions));
    return { bytes, ort, full, image, zeros, context, regions, expected };
  };

  it('when onnxruntime refuses a fused graph, the batches run full forward passes, it is told once, and the scores are the full ones', async () => {
    const { bytes, ort, full, image, zeros, context, regions, expected } = await fusedCase();
    // A runtime that refuses one kind of graph: the per-batch fused graph, or the whole-network one of the start.
    for (const [marker, starts] of [['ee_index_0', true], ['ee_input_nhwc', false]] as const) {
      const refusing: OnnxRuntime = {
        ...ort,
        InferenceSession: {
          create: (model, options) => (Buffer.from(model).includes(marker) ? Promise.reject(new Error('unsupported node\nmore detail')) : ort.InferenceSession.create(model, options)),
        },
      };
      const graph = readOnnx(bytes);
      const options = { intraOpNumThreads: 1, graphOptimizationLevel: 'all' as const };
      const warnings: string[] = [];
      const fused = new FusedIncremental(refusing, graph, options, new IncrementalOnnx(ort, graph, options), (m) => warnings.push(m));
      const scorer = await fused.scorer(context, image, zeros, () => full.fullForwardScorer(context) as AblationScorer);
      if (starts) {
        expect(scorer).toBeDefined();
        for (let call = 0; call < 2; call++) expect(Array.from(await scorer!.scoreRegions(regions))).toEqual(expected);
      } else expect(scorer).toBeUndefined(); // the engine then runs full forward passes itself
      expect(fused.broken).toBe('unsupported node');
      expect(warnings).toEqual([expect.stringMatching(/refused its cropped graph \(unsupported node\); occlusion runs full forward passes/)]);
      await fused.release();
    }
    await full.dispose();
  });

  it("a job's activations go back to the allocator when it ends, after the batch in flight; the start's session plans no memory pattern", async () => {
    const { bytes, ort, full, image, zeros, context, regions, expected } = await fusedCase();
    // A runtime that records each session's options and the arrays the start's whole-network runs return.
    const made: Array<{ start: boolean; options: unknown }> = [];
    const startOutputs: Float32Array[][] = [];
    const recording: OnnxRuntime = {
      ...ort,
      InferenceSession: {
        create: async (model, options) => {
          const start = Buffer.from(model).includes('ee_input_nhwc');
          made.push({ start, options });
          const session = await ort.InferenceSession.create(model, options);
          if (!start) return session;
          return Object.assign(Object.create(session), {
            run: async (feeds: Record<string, OrtTensor>) => {
              const outputs = await session.run(feeds);
              startOutputs.push(Object.keys(outputs).filter((name) => name.startsWith('ee_base_')).map((name) => outputs[name].data as Float32Array));
              return outputs;
            },
          });
        },
      },
    };
    const graph = readOnnx(bytes);
    const options = { intraOpNumThreads: 1, graphOptimizationLevel: 'all' as const };
    const fused = new FusedIncremental(recording, graph, options, new IncrementalOnnx(ort, graph, options));
    const released = (arrays: Float32Array[]) => arrays.every((a) => a.byteLength === 0);

    // Ended while a batch is in flight: the batch still reads the activations and gets the full forwards' scores.
    const first = (await fused.scorer(context, image, zeros, () => full.fullForwardScorer(context) as AblationScorer))!;
    expect(Array.from(await first.scoreRegions(regions))).toEqual(expected);
    const inFlight = first.scoreRegions(regions);
    await first.dispose();
    expect(released(startOutputs[0])).toBe(false);
    expect(Array.from(await inFlight)).toEqual(expected);
    expect(startOutputs[0].length).toBeGreaterThan(20);
    expect(released(startOutputs[0])).toBe(true);
    await expect(first.scoreRegions(regions)).rejects.toMatchObject({ code: 'aborted' });

    // Ended with nothing in flight: given back at once, and the next job's map is unchanged.
    const second = (await fused.scorer(context, image, zeros, () => full.fullForwardScorer(context) as AblationScorer))!;
    expect(Array.from(await second.scoreRegions(regions))).toEqual(expected);
    await second.dispose();
    expect(released(startOutputs[1])).toBe(true);

    expect(made.filter((m) => m.start)).toEqual([{ start: true, options: { ...options, enableMemPattern: false } }]);
    expect(made.filter((m) => !m.start).every((m) => m.options === options)).toBe(true);
    await Promise.all([fused.release(), full.dispose()]);
  });

  it('crops end on the last row at any size: a residual network on 47×41 (ceil-mode pool, strided blocks, TF-style Pad) equals full forwards', async () => {
    // Seeded random weights; sizes 47×41 → 24×21 → pool (ceil) 12×10 → 6×5 → 3×2. Odd lengths before stride-2
    // layers, a biased 3×3 convolution inside each block (what a crop past an edge used to need a mask for), a pool
    // whose ceil mode adds a partial window, and a zero Pad folded into its convolution.
    let state = 7;
    const uniform = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
    const weights = new Map<string, Uint8Array>();
    const nodes = [] as ReturnType<typeof nodeProto>[];
    let count = 0;
    const conv = (x: string, cin: number, cout: number, k: number, stride: number, pad: number, relu = true) => {
      const name = `c${count++}`;
      const limit = Math.sqrt(6 / (cin * k * k));
      weights.set(`${name}.w`, tensorProto(`${name}.w`, 'float32', [cout, cin, k, k], Float32Array.from({ length: cout * cin * k * k }, () => limit * uniform())));
      weights.set(`${name}.b`, tensorProto(`${name}.b`, 'float32', [cout], Float32Array.from({ length: cout }, () => 0.5 * uniform())));
      nodes.push(nodeProto('Conv', [x, `${name}.w`, `${name}.b`], [name], { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad] }));
      if (!relu) return name;
      nodes.push(nodeProto('Relu', [name], [`${name}.r`]));
      return `${name}.r`;
    };
    const add = (a: string, b: string) => {
      const name = `a${count++}`;
      nodes.push(nodeProto('Add', [a, b], [name]), nodeProto('Relu', [name], [`${name}.r`]));
      return `${name}.r`;
    };
    let x = conv('input', 3, 16, 3, 2, 1);
    nodes.push(nodeProto('MaxPool', [x], ['pool'], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }));
    x = add(conv(conv(conv('pool', 16, 16, 1, 1, 0), 16, 16, 3, 1, 1), 16, 16, 1, 1, 0, false), 'pool');
    x = add(conv(conv(x, 16, 32, 3, 2, 1), 32, 32, 3, 1, 1, false), conv(x, 16, 32, 1, 2, 0, false));
    weights.set('pads', tensorProto('pads', 'int64', [8], BigInt64Array.from([0n, 0n, 0n, 0n, 0n, 0n, 1n, 1n])));
    nodes.push(nodeProto('Pad', [x, 'pads'], ['padded']));
    x = conv('padded', 32, 32, 3, 2, 0);
    weights.set('fc.w', tensorProto('fc.w', 'float32', [10, 32], Float32Array.from({ length: 320 }, () => 0.3 * uniform())));
    weights.set('fc.b', tensorProto('fc.b', 'float32', [10], new Float32Array(10)));
    nodes.push(nodeProto('GlobalAveragePool', [x], ['gap']), nodeProto('Flatten', ['gap'], ['flat'], { axis: 1 }), nodeProto('Gemm', ['flat', 'fc.w', 'fc.b'], ['output'], { transB: 1 }));
    const base = readOnnx(readFileSync(join(ONNX, 'tiny_cnn.onnx')));
    const bytes = graphModel({ ...base, initializers: new Map() }, nodes, [{ name: 'input', dims: ['n', 3, 'h', 'w'] }], ['output'], weights);

    const full = (await OnnxEngine.create(bytes, { workers: 1, threads: 1, incremental: false }))!;
    const fused = (await OnnxEngine.create(bytes, { workers: 1, threads: 1, incremental: true }))!;
    const pixels = Float32Array.from({ length: 47 * 41 * 3 }, () => uniform());
    const image = tf.tensor4d(pixels, [1, 47, 41, 3]);
    const before = tf.memory().numTensors;
    const [a, b] = await mapsOf([full, fused], image, { target: 3, slidingWindowShapes: [7, 7, 3], strides: [4, 4, 3], baselines: 0 });
    expect(tf.memory().numTensors).toBe(before);
    const flops = fused.incremental!.flops;
    await Promise.all([full.dispose(), fused.dispose()]);
    image.dispose();
    const maxAbs = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(maxAbs).toBeGreaterThan(0);
    // Crops ran (the fused graph, not its fallback to full forward passes) and the map is the full one.
    console.log(`native residual net 47×41, 7/4: incremental vs full ${(maxAbsDiff(a, b) / maxAbs).toExponential(2)} of max; multiply-adds saved ${((1 - flops.incremental / flops.full) * 100).toFixed(1)} %`);
    expect(1 - flops.incremental / flops.full).toBeGreaterThan(0.2);
    expect(maxAbsDiff(a, b) / maxAbs).toBeLessThan(1e-5);
  });

  it('cropLength: at least the rows needed, and as long as the tensor modulo the stride, so a crop can end on its last row', () => {
    expect(cropLength(10, 24, 2)).toBe(10);
    expect(cropLength(10, 23, 2)).toBe(11);
    expect(cropLength(7, 23, 4)).toBe(7);
    expect(cropLength(8, 23, 4)).toBe(11);
    expect(cropLength(22, 23, 2)).toBe(23);
    expect(cropLength(23, 23, 2)).toBe(23);
    expect(cropLength(5, 9, 1)).toBe(5);
    for (const [need, size, stride] of [[3, 17, 2], [9, 56, 4], [12, 13, 2], [1, 7, 2]]) {
      const length = cropLength(need, size, stride);
      expect(length).toBeGreaterThanOrEqual(need);
      expect(length).toBeLessThanOrEqual(size);
      expect(length === size || (size - length) % stride === 0).toBe(true);
    }
  });

  it("incremental 'auto' times both scorers, settles on one, and its map equals full forwards within 1e-4 of the maximum", async () => {
    const bytes = readFileSync(join(ONNX, 'mobilenet_v1_0.75.onnx'));
    const full = (await OnnxEngine.create(bytes, { workers: 1, threads: 2, incremental: false }))!;
    const auto = (await OnnxEngine.create(bytes, { workers: 1, threads: 2, incremental: 'auto' }))!;
    // false keeps no pieces; 'auto' keeps them to time them.
    expect([full.mode, full.incremental]).toEqual([false, undefined]);
    expect(auto.mode).toBe('auto');
    expect(auto.incremental).toBeDefined();
    const a = await occlude(full, 'mobilenet_v1_0.75');
    // 49 windows in runs of 4: 13 calls, enough for the 7 of the trial.
    const b = await occlude(auto, 'mobilenet_v1_0.75', 4);
    expect(full.choice).toBeUndefined();
    expect(['full', 'incremental']).toContain(auto.choice);
    // The pieces ran (the warm-up call and the timed ones), so the map mixes both scorers.
    expect(auto.incremental!.flops.incremental).toBeGreaterThan(0);
    await Promise.all([full.dispose(), auto.dispose()]);
    expect(maxAbsDiff(a.values, b.values) / a.maxAbs).toBeLessThan(1e-4);
  });

  it('attached with incremental: true, an Occlusion that asks for incremental: false runs full forward passes', async () => {
    const bytes = readFileSync(join(ONNX, 'mobilenet_v1_0.75.onnx'));
    const engine = (await OnnxEngine.create(bytes, { workers: 1, threads: 2, incremental: true }))!;
    const model: Model = { ...unusedModel };
    engine.attachTo(model);
    const x = tf.tensor4d(readBin(index.arrays['mobilenet_v1_0.75/input'].file), [1, 224, 224, 3]);
    const options = { target: 3, slidingWindowShapes: [56, 56, 3] as [number, number, number], strides: [28, 28, 3] as [number, number, number] };
    tf.dispose(await new Occlusion(model).attribute(x, { ...options, incremental: false }));
    expect(engine.incremental!.flops.incremental).toBe(0);
    tf.dispose(await new Occlusion(model).attribute(x, options));
    expect(engine.incremental!.flops.incremental).toBeGreaterThan(0);
    x.dispose();
    await engine.dispose(model);
  });

  it('spreads the batches over native worker threads with the single-session map', async () => {
    const bytes = readFileSync(join(ONNX, 'resnet18.onnx'));
    const one = (await OnnxEngine.create(bytes, { workers: 1, threads: 1 }))!;
    const two = (await OnnxEngine.create(bytes, { workers: 2, threads: 1 }))!;
    expect(two.workers).toBe(2);
    const a = await occlude(one, 'resnet18');
    const b = await occlude(two, 'resnet18');
    await Promise.all([one.dispose(), two.dispose()]);
    // Each worker runs half of a batch: batch size may change onnxruntime's rounding, never beyond float32 noise.
    expect(maxAbsDiff(a.values, b.values) / a.maxAbs).toBeLessThan(1e-5);
  });
});

describe("incremental 'auto'", () => {
  it('keeps incremental only when it is at least 10 % faster per copy', () => {
    expect(fasterScorer(10, 8.9)).toBe('incremental');
    expect(fasterScorer(10, 9.1)).toBe('full');
    expect(fasterScorer(10, 20)).toBe('full');
  });

  it('scores the first calls on full forwards, warms the pieces up, then times alternate calls', () => {
    const trial = new ScorerTrial();
    const seen: string[] = [];
    // Untimed calls are slow on purpose (cold sessions): they must not decide.
    const ms = { full: [1, 1, 0, 5, 0, 5, 0], incremental: [0, 0, 100, 0, 4, 0, 4] };
    let choice: string | undefined;
    for (let call = 0; call < 7; call++) {
      const which = trial.next();
      seen.push(which);
      expect(choice).toBeUndefined();
      choice = trial.record(which, ms[which][call]);
    }
    expect(seen).toEqual(['full', 'full', 'incremental', 'full', 'incremental', 'full', 'incremental']);
    expect(choice).toBe('incremental');
    const slow = new ScorerTrial();
    for (const t of [1, 1, 0.1, 5, 4.8, 5, 4.8]) choice = slow.record(slow.next(), t);
    expect(choice).toBe('full');
  });
});

describe('nativeThreads', () => {
  it('shares the cores out between workers and threads, never more in all than cores', () => {
    expect(nativeThreads(1)).toEqual({ workers: 1, threads: 1 });
    expect(nativeThreads(2)).toEqual({ workers: 2, threads: 1 });
    expect(nativeThreads(16)).toEqual({ workers: 4, threads: 4 });
    expect(nativeThreads(2, { threads: 2 })).toEqual({ workers: 1, threads: 2 });
    expect(nativeThreads(16, { workers: 2 })).toEqual({ workers: 2, threads: 8 });
    expect(() => nativeThreads(2, { workers: 2, threads: 2 })).toThrow(/exceed the 2 cores/);
    expect(() => nativeThreads(2, { workers: 0 })).toThrow(/positive integer/);
  });
});
