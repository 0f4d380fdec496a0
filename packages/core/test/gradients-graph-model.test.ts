// Layer methods on a GraphModel (named nodes): the emotion mini-Xception from ../shared, on cpu.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { asModel, ExplainError, LayerGradCam, type Model } from '@easy-explain/core/internal';
import { join } from 'node:path';
import { SHARED, loadGraphModel, maxAbsDiff, useBackend } from './helpers';

const ADD_2 = 'StatefulPartitionedCall/model_1/add_2/add';

describe('GraphModel layers by name (emotion mini-Xception, cpu)', () => {
  let graph: Awaited<ReturnType<typeof loadGraphModel>>;
  let model: Model;
  let input: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend('cpu');
    graph = await loadGraphModel(join(SHARED, 'models/emotion_mini_xception/model.json'));
    model = asModel(graph);
    input = tf.tidy(() => tf.sub(tf.mul(tf.randomUniform([1, 64, 64, 1], 0, 1, 'float32', 3), 2), 1)) as tf.Tensor4D;
  });
  afterAll(() => {
    input.dispose();
    graph.dispose();
  });

  it('detects the softmax output and the input shape from the graph', () => {
    expect(model.outputKind).toBe('probabilities');
    expect(model.inputShape).toEqual([64, 64, 1]);
  });

  it('predictWithLayer returns the named node [1,8,8,256] and the same scores as predict', () => {
    const before = tf.memory().numTensors;
    const { activations, scores } = model.predictWithLayer!(input, ADD_2);
    const plain = model.predict(input);
    expect(activations.shape).toEqual([1, 8, 8, 256]);
    expect(scores.shape).toEqual([1, 7]);
    expect(maxAbsDiff(scores.dataSync(), plain.dataSync())).toBeLessThan(1e-6);
    tf.dispose([activations, scores, plain]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("Grad-CAM on a named node equals Captum's definition computed by hand: ReLU-free Σ_k mean(∂y/∂A_k)·A_k", async () => {
    const target = 3;
    const before = tf.memory().numTensors;
    const map = await new LayerGradCam(model, ADD_2).attribute(input, { target });
    expect(map.shape).toEqual([1, 8, 8, 1]);
    // By hand: gradient of the target score w.r.t. the node's output, fed back through the graph's head.
    const expected = tf.tidy(() => {
      const { activations } = model.predictWithLayer!(input, ADD_2);
      const grad = tf.grad((a: tf.Tensor) => {
        const scores = model.scoresFromLayer!(input, ADD_2, a as tf.Tensor4D);
        return tf.sum(tf.slice(scores, [0, target], [1, 1]));
      })(activations);
      const weights = tf.mean(grad, [1, 2], true);
      return tf.sum(tf.mul(weights, activations), 3, true);
    });
    const scale = Math.max(...Array.from(expected.dataSync()).map(Math.abs));
    expect(scale).toBeGreaterThan(0);
    expect(maxAbsDiff(map.dataSync(), expected.dataSync())).toBeLessThan(1e-4 * scale);
    tf.dispose([map, expected]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an unknown node is an ExplainError naming it, with nothing leaked', async () => {
    const before = tf.memory().numTensors;
    let error: unknown;
    try {
      await new LayerGradCam(model, 'no/such/node').attribute(input, { target: 0 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ExplainError);
    expect((error as ExplainError).message).toContain('no/such/node');
    // Only computed nodes are offered, not the weights.
    expect((error as ExplainError).message).toContain(ADD_2);
    expect((error as ExplainError).message).not.toContain('Conv2D_weights');
    expect(tf.memory().numTensors).toBe(before);
  });
});
