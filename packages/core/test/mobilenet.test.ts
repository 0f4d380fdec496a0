// MobileNet v1 0.75 (../shared/models) on real photos: predictions, preprocessing and easy-explain's Occlusion.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { asModel, Occlusion, parseLabels, predictClasses, preprocess, windowCount, type Model } from '@easy-explain/core/internal';
import { join } from 'node:path';
import { SHARED, loadLayersModel, loadPhoto, readJson, useBackend } from './helpers';

const labels = parseLabels(readJson(join(SHARED, 'models/imagenet_labels/imagenet_class_index.json')));

describe('MobileNet v1 0.75 on wasm', () => {
  let layers: Awaited<ReturnType<typeof loadLayersModel>>;
  let model: Model;
  beforeAll(async () => {
    await useBackend('wasm');
    layers = await loadLayersModel(join(SHARED, 'models/mobilenet_v1_0.75_224/model.json'));
    model = asModel(layers);
  });
  afterAll(() => layers.dispose());

  it('detects probabilities and the input shape from the model', () => {
    expect(model.outputKind).toBe('probabilities');
    expect(model.inputShape).toEqual([224, 224, 3]);
    expect(asModel(layers, { outputLayer: 'conv_preds' }).outputKind).toBe('logits');
  });

  it('coffee.png: top-1 is espresso (967) at about 0.98', async () => {
    const photo = await loadPhoto('coffee.png');
    const before = tf.memory().numTensors;
    const input = preprocess(photo, 'mobilenet');
    expect(input.shape).toEqual([1, 224, 224, 3]);
    const predictions = await predictClasses(model, input, labels, 5);
    input.dispose();
    expect(tf.memory().numTensors).toBe(before);
    photo.dispose();
    expect(predictions[0].index).toBe(967);
    expect(predictions[0].label).toBe('espresso');
    expect(predictions[0].probability).toBeGreaterThan(0.95);
    expect(predictions[0].percentage).toBeCloseTo(predictions[0].probability * 100, 4);
    for (let i = 1; i < predictions.length; i++) expect(predictions[i].probability).toBeLessThanOrEqual(predictions[i - 1].probability);
  });

  it('logits through conv_preds give the same ranking after softmax', async () => {
    const photo = await loadPhoto('coffee.png');
    const input = preprocess(photo, 'mobilenet');
    const viaProbabilities = await predictClasses(model, input, labels, 5);
    const viaLogits = await predictClasses(asModel(layers, { outputLayer: 'conv_preds' }), input, labels, 5);
    tf.dispose([photo, input]);
    expect(viaLogits.map((p) => p.index)).toEqual(viaProbabilities.map((p) => p.index));
    expect(Math.abs(viaLogits[0].probability - viaProbabilities[0].probability)).toBeLessThan(1e-4);
  });

  it("chelsea.png: the top-5 holds Egyptian cat (285) and tabby (281); easy-explain's Occlusion gives a map equal across channels", async () => {
    const photo = await loadPhoto('chelsea.png');
    const input = preprocess(photo, 'mobilenet');
    photo.dispose();
    const predictions = await predictClasses(model, input, labels, 5);
    const top5 = predictions.map((p) => p.index);
    expect(top5).toContain(285);
    expect(top5).toContain(281);

    const before = tf.memory().numTensors;
    let windows = 0;
    const attribution = await new Occlusion(model).attribute(input, {
      target: predictions[0].index,
      slidingWindowShapes: [45, 45, 3],
      strides: [9, 9, 3],
      baselines: 0,
      onProgress: (_, total) => (windows = total),
    });
    expect(windows).toBe(441);
    expect(windowCount(224, 45, 9) ** 2).toBe(441);
    expect(attribution.shape).toEqual([1, 224, 224, 3]);
    const values = attribution.dataSync();
    attribution.dispose();
    input.dispose();
    expect(tf.memory().numTensors).toBe(before - 1);
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < values.length; i += 3) {
      expect(Number.isFinite(values[i])).toBe(true);
      // The window spans all three channels, so every channel of a pixel gets the same value.
      expect(values[i + 1]).toBe(values[i]);
      expect(values[i + 2]).toBe(values[i]);
      min = Math.min(min, values[i]);
      max = Math.max(max, values[i]);
    }
    expect(max - min).toBeGreaterThan(1e-3);
  });
});
