// Gradient methods' errors, tensor hygiene and the runMethod registry, on the small reference model (cpu).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import {
  asModel,
  ExplainError,
  GuidedGradCam,
  IntegratedGradients,
  LayerGradCam,
  METHOD_NAMES,
  NoiseTunnel,
  runMethod,
  Saliency,
  type Model,
} from '@easy-explain/core/internal';
import { join } from 'node:path';
import { REFERENCE, loadLayersModel, readJson, useBackend } from './helpers';

const inputs = readJson(join(REFERENCE, 'inputs.json'));

async function expectError(code: string, fn: () => Promise<unknown> | unknown, message?: RegExp) {
  const before = tf.memory().numTensors;
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ExplainError);
  expect((caught as ExplainError).code).toBe(code);
  if (message) expect((caught as Error).message).toMatch(message);
  expect(tf.memory().numTensors).toBe(before);
}

describe('gradient methods: errors, leaks and runMethod', () => {
  let layers: Awaited<ReturnType<typeof loadLayersModel>>;
  let model: Model;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend('cpu');
    layers = await loadLayersModel(join(REFERENCE, 'model', 'model.json'));
    model = asModel(layers);
    x = tf.tensor4d(inputs.inputs[0].image);
  });
  afterAll(() => {
    x.dispose();
    layers.dispose();
  });

  it('unknown layers give invalid_model listing the layers', async () => {
    await expectError('invalid_model', () => new LayerGradCam(model, 'nope'), /conv1, .*relu3/);
    await expectError('invalid_model', () => new GuidedGradCam(model, 'nope'), /Its layers are/);
    await expectError('invalid_model', () => runMethod('grad_cam', model, x, { target: 1 }, { layer: 'nope' }), /relu3/);
  });

  it('a non-4-D layer gives invalid_model without leaking', async () => {
    await expectError('invalid_model', () => new LayerGradCam(model, 'fc').attribute(x, { target: 1 }), /not a 4-D/);
  });

  it('bad targets give invalid_target without leaking', async () => {
    await expectError('invalid_target', () => new Saliency(model).attribute(x, { target: 10 }));
    await expectError('invalid_target', () => new IntegratedGradients(model).attribute(x, { target: [1, 2] }));
    await expectError('invalid_target', () => new LayerGradCam(model, 'conv3').attribute(x, { target: -1 }));
    await expectError('invalid_target', () => new Saliency(model).attribute(x, { target: 1.5 }));
  });

  it('bad options give invalid_option', async () => {
    await expectError('invalid_option', () => new IntegratedGradients(model).attribute(x, { target: 1, nSteps: 0 }));
    await expectError('invalid_option', () => new IntegratedGradients(model).attribute(x, { target: 1, method: 'simpson' as never }));
    await expectError('invalid_option', () => new IntegratedGradients(model).attribute(x, { target: 1, nSteps: 1, method: 'riemann_left' }));
    await expectError('invalid_option', () => new NoiseTunnel(new Saliency(model)).attribute(x, { target: 1, ntType: 'mean' as never }));
    const noise = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
    await expectError('invalid_option', () => new NoiseTunnel(new Saliency(model)).attribute(x, { target: 1, ntSamples: 2, noise }));
    noise.dispose();
    await expectError('invalid_option', () => new GuidedGradCam(model, 'conv3').attribute(x, { target: 1, interpolateMode: 'cubic' as never }));
    await expectError('invalid_option', () => runMethod('lime' as never, model, x, { target: 1 }));
  });

  it('a plain function model cannot run layer methods', async () => {
    const fn = asModel((images: tf.Tensor4D) => layers.predict(images) as tf.Tensor2D);
    await expectError('invalid_model', () => new LayerGradCam(fn, 'conv3').attribute(x, { target: 1 }));
    // …but input-gradient methods work on it.
    const a = await new Saliency(fn).attribute(x, { target: 1 });
    expect(a.shape).toEqual([1, 32, 32, 3]);
    a.dispose();
  });

  it('Grad-CAM picks the last 4-D activation before global pooling and says so', () => {
    expect(LayerGradCam.defaultLayer(model)).toBe('relu3');
    const cam = new LayerGradCam(model);
    expect(cam.layer).toBe('relu3');
    expect(cam.layerIsDefault).toBe(true);
  });

  it('IG works per example in a batch of two with a tensor baseline', async () => {
    const batch = tf.concat([x, tf.reverse(x, 1)]) as tf.Tensor4D;
    const baseline = tf.fill([1, 32, 32, 3], 0.5);
    const { attribution, delta } = await new IntegratedGradients(model).attributeWithDelta(batch, { target: [4, 1], baselines: baseline, nSteps: 20 });
    const single = await new IntegratedGradients(model).attribute(tf.slice(batch, [1, 0, 0, 0], [1, -1, -1, -1]), { target: 1, baselines: 0.5, nSteps: 20 });
    const second = tf.slice(attribution, [1, 0, 0, 0], [1, -1, -1, -1]);
    expect(tf.max(tf.abs(tf.sub(second, single))).dataSync()[0]).toBeLessThan(1e-7);
    expect(delta).toHaveLength(2);
    for (const d of delta) expect(Math.abs(d)).toBeLessThan(1e-3);
    tf.dispose([batch, baseline, attribution, single, second]);
  });

  for (const method of METHOD_NAMES) {
    it(`runMethod('${method}') returns the input's shape and frees everything`, async () => {
      const before = tf.memory().numTensors;
      const progress: number[] = [];
      const settings = { occlusion: { slidingWindowShapes: [8, 8], strides: 8, workers: 1 }, integrated_gradients: { nSteps: 8 }, smoothgrad: { ntSamples: 3 } }[method as string] ?? {};
      const { attribution, parameters } = await runMethod(method, model, x, { target: 4, onProgress: (d, t) => progress.push(d / t) }, settings as never);
      expect(attribution.shape).toEqual([1, 32, 32, 3]);
      expect(Number.isFinite(tf.tidy(() => tf.sum(tf.abs(attribution)).dataSync()[0]))).toBe(true);
      attribution.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(progress.at(-1)).toBe(1);
      if (method === 'grad_cam' || method === 'guided_grad_cam') expect(parameters.layer).toBe('relu3');
      if (method === 'integrated_gradients') expect((parameters.convergenceDelta as number[]).length).toBe(1);
    });
  }

  it("runMethod('smoothgrad') repeats with its default seed 0 and changes with another", async () => {
    const run = async (seed?: number) => {
      const { attribution } = await runMethod('smoothgrad', model, x, { target: 4 }, { ntSamples: 4, ntSamplesBatchSize: 2, seed });
      const values = Array.from(await attribution.data());
      attribution.dispose();
      return values;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(await run(0)).toEqual(first);
    expect(await run(3)).not.toEqual(first);
  });

  it("runMethod('grad_cam'): the channel sum is the bilinear-upsampled map", async () => {
    const { attribution } = await runMethod('grad_cam', model, x, { target: 4 }, { layer: 'conv3' });
    const map = await new LayerGradCam(model, 'conv3').attribute(x, { target: 4 });
    const up = LayerGradCam.interpolate(map, [32, 32], 'bilinear');
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.sum(attribution, 3, true), up))).dataSync()[0]);
    expect(diff).toBeLessThan(1e-8);
    tf.dispose([attribution, map, up]);
  });
});
