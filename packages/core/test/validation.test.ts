// Every validation error by code, and tf.memory().numTensors unchanged after errors, aborts and successful calls.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  asModel,
  ExplainError,
  Occlusion,
  parseLabels,
  predictClasses,
  preprocess,
  defaultPerturbationsPerEval,
  type OcclusionOptions,
} from '@easy-explain/core/internal';
import { useBackend, errorOf } from './helpers';

// A toy classifier: class k scores the mean of channel k, so the answers are known by hand.
const channelMeans = asModel((images: tf.Tensor4D) => tf.tidy(() => tf.mean(images, [1, 2]) as tf.Tensor2D));


describe('Occlusion validation and resource hygiene (cpu)', () => {
  beforeAll(() => useBackend('cpu'));
  const base: OcclusionOptions = { target: 0, slidingWindowShapes: [2, 2, 3], strides: [2, 2, 3] };

  const cases: Array<[string, Partial<OcclusionOptions> | 'input', string, RegExp]> = [
    ['window of two dimensions', { slidingWindowShapes: [2, 2] as never }, 'invalid_window', /\[h, w, c\]/],
    ['window of size 0', { slidingWindowShapes: [0, 2, 3] }, 'invalid_window', /positive integer/],
    ['fractional window', { slidingWindowShapes: [1.5, 2, 3] }, 'invalid_window', /positive integer/],
    ['window larger than the image', { slidingWindowShapes: [9, 2, 3] }, 'window_too_large', /at most 8/],
    ['window with more channels than the image', { slidingWindowShapes: [2, 2, 4] }, 'window_too_large', /channels/],
    ['stride of two dimensions', { strides: [1, 1] as never }, 'invalid_stride', /\[sh, sw, sc\]/],
    ['stride 0', { strides: 0 }, 'invalid_stride', /positive integer/],
    ['negative stride', { strides: [-1, 1, 1] }, 'invalid_stride', /positive integer/],
    ['stride larger than the window', { strides: [3, 2, 3] }, 'stride_too_large', /never be occluded/],
    ['target out of range', { target: 3 }, 'invalid_target', /0 to 2/],
    ['negative target', { target: -1 }, 'invalid_target', /0 to 2/],
    ['fractional target', { target: 0.5 }, 'invalid_target', /integer/],
    ['wrong number of targets', { target: [0, 1, 2] }, 'invalid_target', /batch of 2/],
    ['missing target', { target: undefined as never }, 'invalid_target', /required/],
    ['unbroadcastable baselines', { baselines: 'tensor' as never }, 'invalid_baseline', /broadcast/],
    ['perturbationsPerEval 0', { perturbationsPerEval: 0 }, 'invalid_option', /positive integer/],
  ];

  for (const [what, change, code, message] of cases) {
    it(`${what} → ${code}, no tensor left behind`, async () => {
      const input = tf.randomUniform([2, 8, 8, 3]) as tf.Tensor4D;
      const before = tf.memory().numTensors;
      const options = { ...base, ...(change as object) } as OcclusionOptions;
      if (options.baselines === ('tensor' as never)) options.baselines = tf.zeros([5, 5]);
      const error = await errorOf(() => new Occlusion(channelMeans).attribute(input, options));
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
      if (options.baselines instanceof tf.Tensor) options.baselines.dispose();
      expect(tf.memory().numTensors).toBe(before);
      input.dispose();
    });
  }

  it('input not 4-D, not float32 or empty → invalid_input', async () => {
    const before = tf.memory().numTensors;
    const inputs = [tf.zeros([8, 8, 3]), tf.zeros([1, 8, 8, 3], 'int32'), tf.zeros([0, 8, 8, 3])];
    for (const input of inputs) {
      const error = await errorOf(() => new Occlusion(channelMeans).attribute(input as tf.Tensor4D, base));
      expect(error.code).toBe('invalid_input');
    }
    tf.dispose(inputs);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a model that returns the wrong shape → invalid_model', async () => {
    const broken = asModel((images: tf.Tensor4D) => tf.sum(images) as unknown as tf.Tensor2D);
    const input = tf.ones([1, 4, 4, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    expect((await errorOf(() => new Occlusion(broken).attribute(input, base))).code).toBe('invalid_model');
    expect(tf.memory().numTensors).toBe(before);
    input.dispose();
  });

  it('toy model: occluding channel k of a pixel lowers class k by value/(H·W), averaged over the covering windows', async () => {
    const input = tf.tensor4d(Array.from({ length: 4 * 4 * 3 }, (_, i) => i), [1, 4, 4, 3]);
    const attribution = await new Occlusion(channelMeans).attribute(input, { target: 1, slidingWindowShapes: [1, 1, 1] });
    const values = attribution.dataSync();
    const x = input.dataSync();
    for (let i = 0; i < values.length; i++) expect(values[i]).toBeCloseTo(i % 3 === 1 ? x[i] / 16 : 0, 5);
    tf.dispose([input, attribution]);
  });

  it('abort between batches → aborted, no tensor left behind, no more batches run', async () => {
    const input = tf.randomUniform([1, 16, 16, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    let batches = 0;
    const error = await errorOf(() =>
      new Occlusion(channelMeans).attribute(input, {
        target: 0,
        slidingWindowShapes: [2, 2, 3],
        perturbationsPerEval: 4,
        signal: controller.signal,
        onProgress: () => {
          batches++;
          if (batches === 2) controller.abort();
        },
      }),
    );
    expect(error.code).toBe('aborted');
    expect(batches).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    input.dispose();
  });

  it('an abort from a timer is honoured: the run yields to the event loop between batches', async () => {
    const slow = asModel((images: tf.Tensor4D) => {
      const end = Date.now() + 2;
      while (Date.now() < end);
      return tf.tidy(() => tf.mean(images, [1, 2]) as tf.Tensor2D);
    });
    const input = tf.randomUniform([1, 32, 32, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    let done = 0;
    const error = await errorOf(() =>
      new Occlusion(slow).attribute(input, {
        target: 0,
        slidingWindowShapes: [1, 1, 1],
        perturbationsPerEval: 1,
        signal: controller.signal,
        onProgress: (d) => (done = d),
      }),
    );
    expect(error.code).toBe('aborted');
    expect(done).toBeLessThan(32 * 32 * 3);
    expect(tf.memory().numTensors).toBe(before);
    input.dispose();
  });

  it('an already aborted signal rejects before any work', async () => {
    const input = tf.ones([1, 4, 4, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const error = await errorOf(() =>
      new Occlusion(channelMeans).attribute(input, { ...base, signal: AbortSignal.abort() }),
    );
    expect(error.code).toBe('aborted');
    expect(tf.memory().numTensors).toBe(before);
    input.dispose();
  });

  it('the default perturbationsPerEval keeps one batch within 16 MiB and at most 64', () => {
    expect(defaultPerturbationsPerEval([1, 224, 224, 3])).toBe(27);
    expect(defaultPerturbationsPerEval([1, 32, 32, 3])).toBe(64);
    expect(defaultPerturbationsPerEval([1, 4096, 4096, 3])).toBe(1);
  });
});

describe('predictions, labels and preprocessing (cpu)', () => {
  beforeAll(() => useBackend('cpu'));

  it('predictClasses applies softmax only to logits', async () => {
    const logits = asModel(() => tf.tensor2d([[0, Math.log(3)]]), { outputKind: 'logits' });
    const probabilities = asModel(() => tf.tensor2d([[0.4, 0.6]]), { outputKind: 'probabilities' });
    const input = tf.zeros([1, 2, 2, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const labels = parseLabels(['no', 'yes']);
    const fromLogits = await predictClasses(logits, input, labels, 2);
    expect(fromLogits.map((p) => p.label)).toEqual(['yes', 'no']);
    expect(fromLogits[0].probability).toBeCloseTo(0.75, 6);
    expect(fromLogits[0].percentage).toBeCloseTo(75, 4);
    const fromProbabilities = await predictClasses(probabilities, input, labels, 5);
    expect(fromProbabilities.map((p) => [p.index, p.probability])).toEqual([[1, expect.closeTo(0.6, 6)], [0, expect.closeTo(0.4, 6)]]);
    expect(tf.memory().numTensors).toBe(before);
    const mismatch = await errorOf(() => predictClasses(logits, input, parseLabels(['a', 'b', 'c'])));
    expect(mismatch.code).toBe('invalid_labels');
    const batch = tf.zeros([2, 2, 2, 3]) as tf.Tensor4D;
    expect((await errorOf(() => predictClasses(logits, batch, labels))).code).toBe('invalid_input');
    batch.dispose();
    expect(tf.memory().numTensors).toBe(before);
    input.dispose();
  });

  it('parseLabels reads imagenet_class_index.json, plain arrays, and refuses other shapes', async () => {
    const index = parseLabels({ '1': ['n01443537', 'goldfish'], '0': ['n01440764', 'tench'] });
    expect([index.size, index.name(0), index.name(1), index.name(7)]).toEqual([2, 'tench', 'goldfish', 'class 7']);
    expect(parseLabels(['a', 'b']).name(1)).toBe('b');
    expect((await errorOf(async () => parseLabels({ x: 'y' }))).code).toBe('invalid_labels');
    expect((await errorOf(async () => parseLabels(42))).code).toBe('invalid_labels');
    expect((await errorOf(async () => parseLabels([1, 2]))).code).toBe('invalid_labels');
  });

  it('preprocess: shorter side to 256, centre crop 224, ImageNet mean/std and MobileNet scaling', () => {
    const before = tf.memory().numTensors;
    const white = tf.fill([300, 400, 3], 255, 'int32') as tf.Tensor3D;
    const imagenet = preprocess(white, 'imagenet');
    expect(imagenet.shape).toEqual([1, 224, 224, 3]);
    const pixel = Array.from(tf.tidy(() => tf.slice(imagenet, [0, 100, 100, 0], [1, 1, 1, 3]).dataSync()));
    [0.485, 0.456, 0.406].forEach((mean, c) => expect(pixel[c]).toBeCloseTo((1 - mean) / [0.229, 0.224, 0.225][c], 4));
    const mobilenet = preprocess(white, 'mobilenet');
    expect(tf.tidy(() => tf.max(mobilenet).dataSync()[0])).toBeCloseTo(1, 5);
    // A horizontal ramp 0..399 resized to 256×341 and cropped from column round(58.5) = 58 (Python rounds half to
    // even, as torchvision does): output columns 111/112 sample source x = (58 + 112)·400/341 − 0.5 on average.
    const ramp = tf.tidy(() => tf.tile(tf.reshape(tf.range(0, 400, 1, 'float32'), [1, 400, 1]), [300, 1, 3])) as tf.Tensor3D;
    const cropped = preprocess(ramp, { resize: 256, crop: 224 });
    const middle = tf.tidy(() => tf.slice(cropped, [0, 0, 111, 0], [1, 1, 2, 1]).dataSync());
    expect((middle[0] + middle[1]) / 2).toBeCloseTo(((58 + 112) * 400) / 341 - 0.5, 1);
    tf.dispose([white, imagenet, mobilenet, ramp, cropped]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('preprocess refuses a non-image and an impossible crop', async () => {
    const flat = tf.zeros([4, 4]);
    expect((await errorOf(async () => preprocess(flat as never))).code).toBe('invalid_input');
    const small = tf.zeros([10, 10, 3]) as tf.Tensor3D;
    expect((await errorOf(async () => preprocess(small, { crop: 20 }))).code).toBe('invalid_option');
    tf.dispose([flat, small]);
  });
});

describe('ExplainError', () => {
  it('instanceof accepts any library error by name and code (viz defines its own twin), nothing else', () => {
    const twin = Object.assign(new Error('from viz'), { name: 'ExplainError', code: 'invalid_sign' });
    expect(twin instanceof ExplainError).toBe(true);
    expect(new ExplainError('aborted', 'x') instanceof ExplainError).toBe(true);
    expect(new Error('plain') instanceof ExplainError).toBe(false);
    expect(Object.assign(new Error('no code'), { name: 'ExplainError' }) instanceof ExplainError).toBe(false);
  });
});
