// Incremental occlusion on the real models (wasm): equal to full recomputation within 1e-4 relative.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { asModel, Occlusion, preprocess, type OcclusionOptions } from '@easy-explain/core/internal';
import type { AblationScorerFactory } from '../src/attributors/feature-ablation';
import { incrementalScorer, occlusionFlops, planIncremental, type IncrementalOptions, type IncrementalScorer } from '../src/incremental/index';
import { join } from 'node:path';
import { SHARED, loadGraphModel, loadLayersModel, loadPhoto, maxAbsDiff, useBackend } from './helpers';

type Source = Parameters<typeof incrementalScorer>[0];

/** Occlusion with full forward passes and with the incremental scorer; checks no tensor leaks and returns both maps. */
async function compare(source: Source, input: tf.Tensor4D, options: OcclusionOptions, incremental: IncrementalOptions = {}) {
  const model = asModel(source as never, { outputLayer: incremental.outputLayer });
  const full = await new Occlusion(model).attribute(input, options);
  const fullValues = full.dataSync() as Float32Array;
  full.dispose();
  const before = tf.memory().numTensors;
  const factory = incrementalScorer(source, { ...incremental, onWarning: (m) => { throw new Error(m); } });
  let made: IncrementalScorer | undefined;
  const scorer: AblationScorerFactory = async (context) => (made = (await factory(context)) as IncrementalScorer);
  const map = await new Occlusion(model).attribute(input, { ...options, scorer });
  const values = map.dataSync() as Float32Array;
  map.dispose();
  expect(tf.memory().numTensors).toBe(before);
  expect(made?.incremental).toBe(true);
  const relative = maxAbsDiff(values, fullValues) / fullValues.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return { relative, values, fullValues };
}

describe('incremental occlusion on MobileNet v1 0.75 (wasm)', () => {
  let layers: Awaited<ReturnType<typeof loadLayersModel>>;
  let input: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend('wasm');
    layers = await loadLayersModel(join(SHARED, 'models/mobilenet_v1_0.75_224/model.json'));
    const photo = await loadPhoto('chelsea.png');
    input = preprocess(photo, 'mobilenet');
    photo.dispose();
  });
  afterAll(() => {
    input.dispose();
    layers.dispose();
  });

  it('plans all 27 convolutions with batch norms and ReLU6 fused, the head from the global pooling', () => {
    const planned = planIncremental(layers, [224, 224, 3]);
    expect(planned.ok ? '' : planned.reason).toBe('');
    if (!planned.ok) return;
    expect(planned.plan.nodes.filter((n) => n.op.kind === 'conv')).toHaveLength(27);
    expect(planned.plan.nodes).toHaveLength(28);
    expect(planned.plan.headLayers).toEqual(['global_average_pooling2d_1', 'reshape_1', 'dropout', 'conv_preds', 'act_softmax', 'reshape_2']);
  });

  it("easy-explain's setting (window 45, stride 9, 441 windows) equals full recomputation", async () => {
    const { relative } = await compare(layers, input, { target: 285, slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3] });
    console.log(`MobileNet 441 windows: max |Δ| / max |full| = ${relative.toExponential(2)}`);
    expect(relative).toBeLessThan(1e-4);
  });

  it("with outputLayer 'conv_preds' (logits) it equals full recomputation of the logits", async () => {
    const { relative } = await compare(layers, input, { target: 285, slidingWindowShapes: [45, 45, 3], strides: [45, 45, 3] }, { outputLayer: 'conv_preds' });
    console.log(`MobileNet conv_preds, 25 windows: ${relative.toExponential(2)}`);
    expect(relative).toBeLessThan(1e-4);
  });

  it('counts FLOPs: the incremental path saves over half', () => {
    const flops = occlusionFlops(layers, { inputShape: [224, 224, 3], slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3], perturbationsPerEval: 27 });
    if ('reason' in flops) throw new Error(flops.reason);
    expect(flops.windows).toBe(441);
    expect(flops.full).toBe(442 * flops.forward);
    // MobileNet v1 0.75 at 224: about 325 M multiply-adds.
    expect(flops.forward / 2).toBeGreaterThan(300e6);
    expect(flops.forward / 2).toBeLessThan(350e6);
    expect(flops.saved).toBeGreaterThan(0.5);
    const approximate = occlusionFlops(layers, { inputShape: [224, 224, 3], slidingWindowShapes: [45, 45, 3], strides: [9, 9, 3], approximate: { tau: 0.4 } });
    if ('reason' in approximate) throw new Error(approximate.reason);
    expect(approximate.incremental).toBeLessThan(flops.incremental);
  });
});

describe('incremental occlusion on Darknet tiny (wasm)', () => {
  it('LeakyReLU and max pooling: equals full recomputation', async () => {
    await useBackend('wasm');
    const layers = await loadLayersModel(join(SHARED, 'models/darknet_tiny/model.json'));
    const photo = await loadPhoto('coffee.png');
    const input = preprocess(photo, { resize: 224, crop: 224, scale: [1 / 255, 0] });
    photo.dispose();
    const planned = planIncremental(layers, [224, 224, 3]);
    expect(planned.ok ? planned.plan.headLayers : planned.reason).toEqual(['global_average_pooling2d_1']);
    const { relative } = await compare(layers, input, { target: 946, slidingWindowShapes: [45, 45, 3], strides: [30, 30, 3] });
    console.log(`Darknet tiny 49 windows: ${relative.toExponential(2)}`);
    expect(relative).toBeLessThan(1e-4);
    input.dispose();
    layers.dispose();
  });
});

describe('incremental occlusion on the emotion GraphModel (wasm)', () => {
  it('fused convolutions, depthwise, max pooling, AddV2 and Mean: equals full recomputation', async () => {
    await useBackend('wasm');
    const graph = await loadGraphModel(join(SHARED, 'models/emotion_mini_xception/model.json'));
    const planned = planIncremental(graph, [64, 64, 1]);
    expect(planned.ok ? '' : planned.reason).toBe('');
    if (planned.ok) {
      expect(planned.plan.nodes.filter((n) => n.op.kind === 'conv')).toHaveLength(13);
      expect(planned.plan.nodes.filter((n) => n.op.kind === 'add')).toHaveLength(2);
      expect(planned.plan.headLayers[0]).toBe('StatefulPartitionedCall/model_1/global_average_pooling2d_1/Mean');
    }
    const input = tf.tidy(() => tf.sub(tf.mul(tf.randomUniform([1, 64, 64, 1], 0, 1, 'float32', 7), 2), 1)) as tf.Tensor4D;
    const { relative } = await compare(graph, input, { target: 3, slidingWindowShapes: [8, 8, 1], strides: [4, 4, 1] });
    console.log(`emotion GraphModel 225 windows: ${relative.toExponential(2)}`);
    expect(relative).toBeLessThan(1e-4);
    input.dispose();
    graph.dispose();
  });
});
